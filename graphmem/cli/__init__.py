"""The `graphmem` command line (`main`): a thin shell over `Memory`."""
