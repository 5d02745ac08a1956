"""The labels that mark what belongs to this project on a Docker engine.

Every image, container, network and volume the toolkit creates carries `PROJECT`; nothing
without it is ever stopped, removed or pruned.
"""

PROJECT = "dataplatform.project"
IMAGE = "dataplatform.image"
FINGERPRINT = "dataplatform.fingerprint"
