"""Table descriptions and API/document schemas, one module per resource family.

``controlplane.models.guest`` holds the VirtualMachine/Container document that the API, the portal and
GitOps files share.
"""
