"""Session security of the simulated venues, probed from outside with simplefix over Python's ``ssl``
(not QuickFIX): a TLS venue takes TLS 1.2/1.3 with a client certificate from our CA only, a venue with
``require_credentials`` takes only the Username/Password its secrets store holds for the client's
CompID, and a host that cannot check what its config asks for refuses to start. Outcomes only: what
a client receives, and orders that trade.

CompIDs are this module's own: QuickFIX keeps one session registry per process, and every host here
runs while the session-scoped host of conftest.py may still be up.
"""

from __future__ import annotations

import os
import socket

import pytest

from engine.config.loading import ConfigError
from engine.security.secrets import hash_password, write_trader
from sim_venues.host_config import config_from_dict
from sim_venues.logon_check import LOGON_REFUSED, LogonCheck, VenueSecurityError
from sim_venues.settings import settings_table
from tests.security.certs import tls_material
from tests.security.over_fix import got_nothing, refused_with_logout
from tests.security.raw_fix import RawFixClient, fix_utc_timestamp, tls_client_context
from tests.sim_venues.conftest import SYMBOL, host_document, market_for_tests

pytestmark = pytest.mark.slow

CLIENT = "SECCLIENT"  # the engine's CompID as these venues know it
USERNAME, PASSWORD = "secclient", "the client's venue password"
ALWAYS = dict(fill_probability=1.0, tail_exponent=1.5, min_size=1000, max_size=2000)


@pytest.fixture(scope="module")
def material(tmp_path_factory):
    return tls_material(tmp_path_factory.mktemp("venue_tls"))


@pytest.fixture(scope="module")
def secrets_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("venue_secrets") / "venue-secrets.yaml"
    write_trader(path, CLIENT, USERNAME, PASSWORD)
    return path


def tls_section(material) -> dict:
    return {"certificate": str(material.venue.cert_path), "key": str(material.venue.key_path),
            "ca": str(material.good.cert_path), "require_client_certificate": True}


def venue_config(folder, venue: str, **host_keys):
    """One always-liquid venue ``venue`` (also its CompID) requiring credentials from CLIENT."""
    venues = {venue: (ALWAYS, {"require_credentials": True})}
    document = {**host_document(venues, folder / f"{venue}.truth.jsonl"), "venue_defaults": {"target_comp_id": CLIENT},
                **host_keys}
    return config_from_dict(document, base_dir=folder, market=market_for_tests(venues))


def started(config, environ=None):
    from sim_venues.host import VenueHost

    host = VenueHost(config, environ={} if environ is None else environ)  # never the test runner's variables
    host.start()
    return host


def trades(client: RawFixClient, cl_ord_id: str, quantity: int = 3000) -> int:
    """An IOC midpoint peg (the only order these venues take), to its final report; its CumQty."""
    client.send("D", [(11, cl_ord_id), (21, "1"), (55, SYMBOL), (54, "1"), (60, fix_utc_timestamp()),
                      (38, str(quantity)), (40, "P"), (18, "M"), (59, "3")])
    final = client.wait_for(lambda r: r.msg_type == "8" and r.get(11) == cl_ord_id and r.get(39) in ("2", "4", "8"))
    assert final.message is not None, f"no final report for {cl_ord_id}: {final}"
    return int(final.get(14) or 0)


def port_of(host) -> int:
    return host.listings()[0].port


def good_tls_context(material):
    return tls_client_context(material.good.cert_path, material.engine_client.cert_path, material.engine_client.key_path)


# -- what the config refuses ----------------------------------------------------------------------

def test_tls_with_thread_per_connection_is_a_config_error(tmp_path, material):
    with pytest.raises(ConfigError, match="acceptor.*no thread-per-connection SSL acceptor"):
        venue_config(tmp_path, "SECCFG", tls=tls_section(material), allowed_remote_addresses=[],
                     acceptor="thread_per_connection")


def test_tls_with_an_address_allowlist_is_a_config_error(tmp_path, material):
    # the plain-TCP default (127.0.0.1) too: the SSL acceptor would silently accept every address
    with pytest.raises(ConfigError, match="allowed_remote_addresses.*ignores AllowedRemoteAddresses"):
        venue_config(tmp_path, "SECCFG", tls=tls_section(material))
    assert venue_config(tmp_path, "SECCFG", tls=tls_section(material), allowed_remote_addresses=[]).tls is not None


def test_a_missing_certificate_file_is_a_config_error(tmp_path, material):
    tls = {**tls_section(material), "certificate": str(tmp_path / "nowhere.pem")}
    with pytest.raises(ConfigError, match=r"tls\.certificate = .*nowhere\.pem.*an existing file"):
        venue_config(tmp_path, "SECCFG", tls=tls, allowed_remote_addresses=[])


def test_tls_puts_the_ssl_settings_in_the_default_section_and_no_allowlist(tmp_path, material):
    defaults, _ = settings_table(venue_config(tmp_path, "SECCFG", tls=tls_section(material), allowed_remote_addresses=[]))
    assert defaults["ServerCertificateFile"] == str(material.venue.cert_path)
    assert defaults["CertificateVerifyLevel"] == "1" and defaults["SSLProtocol"] == "-all +TLSv1_2 +TLSv1_3"
    assert "AllowedRemoteAddresses" not in defaults


def test_a_check_without_its_secrets_refuses_every_logon_that_needs_credentials():
    logon = "8=FIX.4.4\x0135=A\x01553=secclient\x01554=the client's venue password\x01"
    unloaded = LogonCheck()
    assert unloaded.refusal(False, True, CLIENT, logon) == LOGON_REFUSED
    assert unloaded.refusal(False, False, CLIENT, logon) is None  # a venue without credentials is not affected


# -- a TLS venue that wants credentials -----------------------------------------------------------

@pytest.fixture(scope="module")
def tls_host(tmp_path_factory, material, secrets_file):
    config = venue_config(tmp_path_factory.mktemp("tls_host"), "SECTLS", tls=tls_section(material),
                          allowed_remote_addresses=[], secrets_file=str(secrets_file))
    host = started(config)
    yield host
    host.stop()


def tls_client(host, context) -> RawFixClient:
    return RawFixClient("127.0.0.1", port_of(host), CLIENT, "SECTLS", tls=context)


def test_a_client_with_a_good_certificate_and_password_logs_on_and_trades(tls_host, material):
    with tls_client(tls_host, good_tls_context(material)) as client:
        assert client.logon(USERNAME, PASSWORD).msg_type == "A"
        assert client._socket.version() in ("TLSv1.2", "TLSv1.3")
        assert trades(client, "SEC-TLS-1") > 0
        assert client.logout().msg_type == "5"


@pytest.mark.parametrize("username, password", [(USERNAME, "not the password at all"), ("someone", PASSWORD),
                                                (None, None)])
def test_wrong_or_missing_credentials_over_tls_get_only_logon_refused(tls_host, material, username, password):
    with tls_client(tls_host, good_tls_context(material)) as client:
        assert refused_with_logout(client.logon(username, password))
        assert not any(reply.msg_type == "A" for reply in client.received)


def test_plain_tcp_on_the_tls_port_gets_nothing(tls_host):
    with tls_client(tls_host, None) as plain:
        assert got_nothing(plain, plain.logon(USERNAME, PASSWORD))
        assert not any(reply.msg_type == "A" for reply in plain.received)


@pytest.mark.parametrize("who", ["intruder", "anonymous"])
def test_a_client_certificate_from_another_ca_or_none_gets_nothing(tls_host, material, who):
    # the refused handshake shows as a closed reply: in connect() under TLS 1.2, on the first read under 1.3
    context = (tls_client_context(material.good.cert_path, material.intruder.cert_path, material.intruder.key_path)
               if who == "intruder" else tls_client_context(material.good.cert_path))
    with tls_client(tls_host, context) as client:
        assert got_nothing(client, client.logon(USERNAME, PASSWORD))
        assert not any(reply.msg_type == "A" for reply in client.received)


def test_after_every_refusal_a_good_client_still_logs_on(tls_host, material):
    with tls_client(tls_host, None) as plain:
        assert got_nothing(plain, plain.logon(USERNAME, PASSWORD))
    with tls_client(tls_host, good_tls_context(material)) as guesser:
        assert refused_with_logout(guesser.logon(USERNAME, "a guess"))
    with tls_client(tls_host, good_tls_context(material)) as client:
        assert client.logon(USERNAME, PASSWORD).msg_type == "A"
        assert trades(client, "SEC-TLS-2") > 0
        assert client.logout().msg_type == "5"


# -- a plain-TCP venue that wants credentials -----------------------------------------------------

@pytest.fixture(scope="module")
def tcp_host(tmp_path_factory, secrets_file):
    host = started(venue_config(tmp_path_factory.mktemp("tcp_host"), "SECTCP", secrets_file=str(secrets_file)))
    yield host
    host.stop()


def tcp_client(host) -> RawFixClient:
    return RawFixClient("127.0.0.1", port_of(host), CLIENT, "SECTCP")


def test_the_right_credentials_over_tcp_log_on_and_trade(tcp_host):
    with tcp_client(tcp_host) as client:
        assert client.logon(USERNAME, PASSWORD).msg_type == "A"
        assert trades(client, "SEC-TCP-1") > 0
        assert client.logout().msg_type == "5"


@pytest.mark.parametrize("username, password", [(USERNAME, "not the password at all"), ("someone", PASSWORD),
                                                (None, None), (USERNAME, None), (None, PASSWORD)])
def test_wrong_or_missing_credentials_over_tcp_get_only_logon_refused(tcp_host, username, password):
    with tcp_client(tcp_host) as client:
        assert refused_with_logout(client.logon(username, password))
        assert not any(reply.msg_type == "A" for reply in client.received)


def test_credentials_from_the_environment_alone_are_checked(tmp_path):
    environ = {f"DARKAGG_TRADER_{CLIENT}": f"{USERNAME}:{hash_password(PASSWORD)}"}
    host = started(venue_config(tmp_path, "SECENV"), environ=environ)
    try:
        with RawFixClient("127.0.0.1", port_of(host), CLIENT, "SECENV") as guesser:
            assert refused_with_logout(guesser.logon(USERNAME, "a guess"))
        with RawFixClient("127.0.0.1", port_of(host), CLIENT, "SECENV") as client:
            assert client.logon(USERNAME, PASSWORD).msg_type == "A"
            assert client.logout().msg_type == "5"
    finally:
        host.stop()


# -- a host that cannot check credentials does not start ------------------------------------------

def nobody_listens(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def refuses_to_start(config, environ=None) -> str:
    """The error of a host that must not start; that it bound no port is checked too."""
    from sim_venues.host import VenueHost

    host = VenueHost(config, environ={} if environ is None else environ)
    try:
        with pytest.raises(VenueSecurityError) as error:
            host.start()
        assert nobody_listens(port_of(host))
    finally:
        host.stop()
    return str(error.value)


def test_a_missing_secrets_file_stops_the_start(tmp_path):
    missing = tmp_path / "absent.yaml"
    message = refuses_to_start(venue_config(tmp_path, "SECBAD1", secrets_file=str(missing)))
    assert str(missing) in message and "add-trader" in message


def test_a_secrets_file_others_can_read_stops_the_start(tmp_path):
    exposed = tmp_path / "exposed.yaml"
    write_trader(exposed, CLIENT, USERNAME, PASSWORD)
    os.chmod(exposed, 0o644)
    message = refuses_to_start(venue_config(tmp_path, "SECBAD2", secrets_file=str(exposed)))
    assert str(exposed) in message and "chmod 600" in message and PASSWORD not in message


def test_a_store_without_the_clients_entry_stops_the_start(tmp_path):
    other = tmp_path / "other.yaml"
    write_trader(other, "SOMEONEELSE", "someone", "someone else's password")
    message = refuses_to_start(venue_config(tmp_path, "SECBAD3", secrets_file=str(other)))
    assert CLIENT in message and "SECBAD3" in message
    # with neither a file nor a variable there is nothing to check against either
    assert CLIENT in refuses_to_start(venue_config(tmp_path, "SECBAD4"))
