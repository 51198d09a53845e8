from __future__ import annotations

import socket

import requests


def ping(host: str, port: int) -> bool:
    with socket.create_connection((host, port), timeout=1):
        return True


def fetch_rates(base_url: str) -> dict[str, float]:
    response = requests.get(f"{base_url}/rates", timeout=2)
    response.raise_for_status()
    return dict(response.json())
