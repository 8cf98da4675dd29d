"""The triedbefore explorer (Flask) and command line."""
