"""Files whose content never leaves the machine nor reaches a prompt: key material, credentials,
`.env` files. Stdlib only, no pattern to compile: git's skip rules consult it on every hook run.
"""

from __future__ import annotations

import os
from pathlib import PurePosixPath

__all__ = ["is_sensitive_path"]

# ------------------------------------------------------------------------------------------ paths
_SENSITIVE_NAMES = frozenset(
    {
        ".env",
        ".envrc",
        ".netrc",
        "_netrc",
        ".npmrc",
        ".pypirc",
        ".git-credentials",
        ".htpasswd",
        ".pgpass",
        ".my.cnf",
        ".dockercfg",
        ".boto",
        ".s3cfg",
        ".vault-token",
        "credentials",
        "credentials.json",
        "client_secret.json",
        "id_rsa",
        "id_dsa",
        "id_ecdsa",
        "id_ed25519",
        "id_ecdsa_sk",
        "id_ed25519_sk",
        "secrets.yml",
        "secrets.yaml",
        "secrets.json",
        "secrets.toml",
        "terraform.tfvars",
        "kubeconfig",
    }
)
_SENSITIVE_SUFFIXES = (
    ".pem",
    ".key",
    ".p12",
    ".pfx",
    ".p8",
    ".jks",
    ".keystore",
    ".ppk",
    ".kdbx",
    ".tfstate",
    ".tfvars",
    ".env",
    ".secret",
    ".secrets",
    ".gpg",
)
_ENV_TEMPLATES = (".example", ".sample", ".template", ".dist", ".defaults")
_SENSITIVE_DIRS = frozenset({".ssh", ".gnupg", ".aws", ".kube", ".docker"})


def is_sensitive_path(path: str | os.PathLike[str]) -> bool:
    """A file whose content is withheld entirely (key material, credentials, `.env` files).

    `.env.example` and other templates stay reviewable: they go through `redact` like any text.
    """
    p = PurePosixPath(os.fspath(path).replace("\\", "/"))
    name = p.name.lower()
    if name in _SENSITIVE_NAMES:
        return True
    if name.startswith(".env."):
        return not name.endswith(_ENV_TEMPLATES)
    if name.startswith("client_secret") and name.endswith(".json"):
        return True
    if name.endswith(_SENSITIVE_SUFFIXES):
        return True
    return any(part.lower() in _SENSITIVE_DIRS for part in p.parts[:-1])
