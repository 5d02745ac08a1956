"""The invoke commands: argument handling and rich output around the library."""
