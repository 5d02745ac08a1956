"""The only package that knows doit: task dicts, the doit configuration and its reporter."""
