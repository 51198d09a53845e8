import socket

from shop.catalog import load_catalog, write_pidfile
from shop.net import fetch_rates, ping


def test_fixture_file_loads():
    with open("data/fixtures.json", encoding="utf-8") as fh:
        assert fh.read()


def test_catalog_from_disk(tmp_path):
    catalog = load_catalog(tmp_path / "catalog.json")
    assert catalog["books"]


def test_pidfile_written():
    write_pidfile("/proc/1/environ")


def test_payment_gateway_up():
    assert ping("127.0.0.1", 1)


def test_rates_endpoint():
    rates = fetch_rates("http://127.0.0.1:9")
    assert rates["EUR"] > 0


def test_raw_socket_send():
    sock = socket.socket()
    sock.settimeout(1)
    sock.connect(("127.0.0.1", 2))
    sock.sendall(b"PING")
