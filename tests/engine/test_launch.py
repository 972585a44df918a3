"""The port picker the tests, the demo and the benchmarks share."""

from __future__ import annotations

import random
import socket

from engine.process import launch


def test_free_ports_are_distinct_bindable_and_below_the_ephemeral_range():
    ports = launch.free_ports(50)
    assert len(set(ports)) == 50
    floor = launch._ephemeral_floor()
    assert all(launch._LOWEST_PORT <= port < max(floor, launch._LOWEST_PORT + 1000) for port in ports)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", ports[0]))
        listener.listen()


def test_a_port_someone_listens_on_is_never_handed_out(monkeypatch):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        taken = squatter.getsockname()[1]
        squatter.listen()
        # the generator proposes the taken port twice first: the picker must probe it and move on
        real = launch._port_choice.randrange
        proposals = iter([taken, taken])
        monkeypatch.setattr(launch._port_choice, "randrange", lambda low, high: next(proposals, None) or real(low, high))
        port = launch.free_port()
        assert next(proposals, None) is None  # both proposals were seen
    assert port != taken


def test_picking_a_port_leaves_a_seeded_random_sequence_alone():
    random.seed(7)
    expected = random.random()
    random.seed(7)
    launch.free_port()
    assert random.random() == expected
