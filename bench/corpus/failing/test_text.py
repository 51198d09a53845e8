import json

from shop.text import extract_order_id, greeting, is_valid_email, parse_config, slugify, sorted_names


def test_slug_uses_dashes():
    assert slugify("Hello World") == "hello-world"


def test_short_tld_is_valid():
    assert is_valid_email("ann@shop.io")


def test_config_types():
    config = parse_config("debug = true\nport = 8080")
    assert config == {"debug": True, "port": 8080}


def test_names_are_alphabetical():
    users = [{"name": "cy"}, {"name": "ann"}, {"name": "bob"}]
    assert sorted_names(users) == ["ann", "bob", "cy"]


def test_order_id_from_reply_subject():
    assert extract_order_id("Re: Order #1042 shipped") == "1042"


def test_greeting_counts_visits():
    assert greeting("ann", 3) == "Welcome back ann, visit number 3"


def test_json_helper_name():
    payload = json.loads_str('{"a": 1}')
    assert payload["a"] == 1


def test_port_is_numeric():
    config = parse_config("port = 80 80")
    assert int(config["port"]) == 8080
