"""``kill -9`` of the API server mid-stream: nothing acknowledged is lost, a resumed watch misses nothing.

A writer thread creates and updates ConfigMaps over HTTP and records every
acknowledged write (name, resourceVersion); a watcher thread records every
event it receives.  Once enough writes are acknowledged the server is killed
with SIGKILL while the writer is still going.  After a restart on the same data
directory:

* every acknowledged object is there, at a resourceVersion at least the
  acknowledged one (a write in flight at the kill may have landed on top);
* a watch resuming from the last resourceVersion the watcher saw delivers every
  later change once, in order, up to a marker written after the restart, and
  replaying both watchers' events gives exactly the state the server lists.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import requests

from tests.serverproc import ServerProc

Body = dict[str, Any]
ACKS_BEFORE_KILL = 250


class Writer(threading.Thread):
    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.path = url + "/api/v1/namespaces/default/configmaps"
        self.acks: list[tuple[str, int]] = []
        self.lock = threading.Lock()
        self.error: BaseException | None = None

    def run(self) -> None:
        s = requests.Session()
        try:
            i = 0
            while True:
                name = f"cm-{i:05d}"
                r = s.post(self.path, json={"metadata": {"name": name}, "data": {"v": "0"}}, timeout=10)
                assert r.status_code == 201, r.text
                self._ack(name, r.json())
                if i % 3 == 2:  # and an update of an earlier one
                    old = f"cm-{i - 2:05d}"
                    r = s.patch(f"{self.path}/{old}", json={"data": {"v": str(i)}}, timeout=10,
                                headers={"Content-Type": "application/merge-patch+json"})
                    assert r.status_code == 200, r.text
                    self._ack(old, r.json())
                i += 1
        except requests.RequestException:
            pass  # the server is gone: the write in flight was never acknowledged
        except BaseException as e:  # pragma: no cover - surfaced by the test
            self.error = e
        finally:
            s.close()

    def _ack(self, name: str, obj: Body) -> None:
        with self.lock:
            self.acks.append((name, int(obj["metadata"]["resourceVersion"])))

    def count(self) -> int:
        with self.lock:
            return len(self.acks)


class Watcher(threading.Thread):
    def __init__(self, url: str, resource_version: str):
        super().__init__(daemon=True)
        self.url = url + "/api/v1/namespaces/default/configmaps"
        self.rv = resource_version
        self.events: list[tuple[str, str, int, Body]] = []
        self.started = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with requests.get(self.url, params={"watch": "true", "resourceVersion": self.rv,
                                                "timeoutSeconds": "60"}, stream=True, timeout=30) as r:
                assert r.status_code == 200, r.text
                self.started.set()
                for line in r.iter_lines():
                    if line:
                        ev = json.loads(line)
                        obj = ev["object"]
                        self.events.append((ev["type"], obj["metadata"]["name"],
                                            int(obj["metadata"]["resourceVersion"]), obj))
        except requests.RequestException:
            pass  # cut off by the kill
        except BaseException as e:  # pragma: no cover
            self.error = e
        finally:
            self.started.set()


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_kill9_mid_stream_loses_no_acknowledged_write_and_watch_resumes(tmp_path: Path) -> None:
    proc = ServerProc(tmp_path / "data", tmp_path / "kubeconfig", extra_args=["--no-controllers"])
    proc.start()
    try:
        start_rv = requests.get(proc.url + "/api/v1/namespaces/default/configmaps",
                                timeout=10).json()["metadata"]["resourceVersion"]
        watcher = Watcher(proc.url, start_rv)
        watcher.start()
        assert watcher.started.wait(10)
        writer = Writer(proc.url)
        writer.start()
        wait_until(lambda: writer.count() >= ACKS_BEFORE_KILL or not writer.is_alive(), 60, "acknowledged writes")
        assert writer.error is None and writer.is_alive(), writer.error
        proc.kill9()  # mid-stream: the writer is still writing
        writer.join(15)
        watcher.join(15)
        assert not writer.is_alive() and not watcher.is_alive()
        assert writer.error is None, writer.error
        assert watcher.error is None, watcher.error
        acks = list(writer.acks)
        seen = list(watcher.events)
        assert len(acks) >= ACKS_BEFORE_KILL

        proc.start()
        s = requests.Session()
        try:
            path = proc.url + "/api/v1/namespaces/default/configmaps"
            listed = s.get(path, timeout=10).json()
            state = {i["metadata"]["name"]: i for i in listed["items"]}

            # 1. Nothing acknowledged is missing.
            newest_ack: dict[str, int] = {}
            for name, rv in acks:
                newest_ack[name] = max(rv, newest_ack.get(name, 0))
            missing = sorted(n for n in newest_ack if n not in state)
            assert not missing, f"acknowledged but lost after kill -9: {missing[:10]}"
            for name, rv in newest_ack.items():
                assert int(state[name]["metadata"]["resourceVersion"]) >= rv, name
            ack_rvs = [rv for _, rv in acks]
            assert ack_rvs == sorted(ack_rvs) and len(set(ack_rvs)) == len(ack_rvs)

            # 2. The pre-crash watcher saw a gapless prefix of the acknowledged history.
            seen_rvs = [rv for _, _, rv, _ in seen]
            assert seen_rvs == sorted(set(seen_rvs)), "pre-crash watch out of order or duplicated"
            last_seen = seen_rvs[-1] if seen_rvs else int(start_rv)
            assert {rv for rv in ack_rvs if rv <= last_seen} <= set(seen_rvs)

            # 3. Resume from the last revision seen: every later change once, in order.
            marker = s.post(path, json={"metadata": {"name": "zz-marker"}}, timeout=10).json()
            marker_rv = int(marker["metadata"]["resourceVersion"])
            resumed: list[tuple[str, str, int, Body]] = []
            with s.get(path, params={"watch": "true", "resourceVersion": str(last_seen), "timeoutSeconds": "30"},
                       stream=True, timeout=40) as r:
                assert r.status_code == 200, r.text
                for line in r.iter_lines():
                    if not line:
                        continue
                    ev = json.loads(line)
                    assert ev["type"] != "ERROR", ev
                    obj = ev["object"]
                    rv = int(obj["metadata"]["resourceVersion"])
                    resumed.append((ev["type"], obj["metadata"]["name"], rv, obj))
                    if rv >= marker_rv:
                        break
            assert resumed and resumed[-1][1] == "zz-marker", "the resumed watch never reached the marker"
            resumed_rvs = [rv for _, _, rv, _ in resumed]
            assert resumed_rvs == sorted(set(resumed_rvs)), "resumed watch out of order or duplicated"
            assert resumed_rvs[0] > last_seen
            assert {rv for rv in ack_rvs if rv > last_seen} <= set(resumed_rvs), "an acknowledged change was missed"

            # 4. Replaying both watches reproduces the listed state exactly.
            replay: dict[str, int] = {}
            for type_, name, rv, _ in seen + resumed:
                if type_ == "DELETED":
                    replay.pop(name, None)
                else:
                    replay[name] = rv
            state[marker["metadata"]["name"]] = marker
            assert replay == {n: int(o["metadata"]["resourceVersion"]) for n, o in state.items()}
        finally:
            s.close()
    finally:
        proc.stop()
