from graphmem.cli.main import main

main()
