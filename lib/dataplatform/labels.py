"""The labels that mark what belongs to this project on a Docker engine.

Every image, container, network and volume the toolkit creates carries `PROJECT`; nothing
without it is ever stopped, removed or pruned.
"""

PROJECT = "dataplatform.project"
IMAGE = "dataplatform.image"
FINGERPRINT = "dataplatform.fingerprint"
# Not a label but a tag repository: `<CURRENT_MARK>/<image>:<checkout id>` marks the image a
# checkout currently uses (images/checkouts.py), so cleaning one clone spares another's.
CURRENT_MARK = "dataplatform-current"
