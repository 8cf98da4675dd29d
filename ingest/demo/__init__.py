"""The demo corpus: real NHS organisations, the 2015 vanguards and their evaluations."""
