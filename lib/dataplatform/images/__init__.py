"""Content-addressed Docker images: declared once, fingerprinted, pulled or built, shared.

`spec` declares an image, `fingerprint` addresses it by content, `engine` connects to Docker,
`context` streams exactly the fingerprinted files to the engine, `builder` builds with a
condensed log, `labelling` labels the result without a build step, `registry` pulls and
pushes, `ensure` puts these together, `housekeeping` lists and cleans the project's images.
"""
