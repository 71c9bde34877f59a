"""Evaluation harnesses (one per benchmark); every ranking change is measured with them."""
