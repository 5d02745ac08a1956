"""Loading the user's YAML into plain data that remembers where every key came from.

`yamlsource` parses with line numbers; `validate` checks keys and types and raises
`ConfigError`s that name file, line and key, with a did-you-mean for typos.
"""
