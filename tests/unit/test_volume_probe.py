"""A volume's health probe writes and removes a file of its own: concurrent probes of one volume by
the threads of one process (worker, healer, garbage collector, each with its own store) never take
the volume offline."""

from __future__ import annotations

import threading

from coffer.server.data.volumes.volume import Volume, VolumeState, format_volume


def test_concurrent_probes_of_one_volume_keep_it_online(tmp_path):
    uuid = format_volume(tmp_path / "vol", fsync=False)
    volumes = [Volume(tmp_path / "vol", uuid, fsync=False) for _ in range(4)]
    start = threading.Barrier(len(volumes))
    states: list[VolumeState] = []

    def probe(vol: Volume) -> None:
        start.wait()
        for _ in range(300):
            states.append(vol.probe())

    threads = [threading.Thread(target=probe, args=(v,)) for v in volumes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(states) == {VolumeState.ONLINE}, [v.last_error for v in volumes if v.last_error]
    assert not list((tmp_path / "vol" / "tmp").iterdir())
