"""The HTTP surface of the real server (gunicorn with serving/gunicorn.conf.py on loopback, over a
snapshot of the test warehouse, API tokens on): slow clients cannot starve it, ids and parameters
are checked whole, every error is our JSON (gunicorn's own 400/414/431 too), /v1 needs a token and
the logs never show one, and random requests get answers that match /openapi.json (issue 14).

Requests go over raw sockets (tests/python/http_client.py): a client library would refuse to
send most of what is sent here.
"""

import hashlib
import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest
from http_client import Answer, exchange, refused_start, request, running_gunicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_check import Oracle
from test_serving_server import publish

from serving.app import create_app
from serving.auth import TokenError
from serving.store import Store
from serving.store_reader import SnapshotReader
from tunesday.warehouse import connect as connect_warehouse

ENV_TOKEN = "env-token-0123456789abcdef"
FILE_TOKEN = "file-token-0123456789abcdef"
#: Requests answered "well within" the sync workers' 30 s timeout that slow clients used to cost.
PROMPT_SECONDS = 10


@pytest.fixture(scope="module")
def server(warehouse, tmp_path_factory):
    root = tmp_path_factory.mktemp("http")
    store = Store(root / "store")
    publish(warehouse, store)
    tokens_file = root / "tokens"
    tokens_file.write_text(f"# rotated by test_a_token_file_is_rotated_without_a_restart\n{FILE_TOKEN}\n")
    tokens = {
        "TUNESDAY_API_TOKENS": f"{ENV_TOKEN}, another-token-0123456789",
        "TUNESDAY_API_TOKENS_FILE": str(tokens_file),
    }
    log_path = root / "gunicorn.log"
    with running_gunicorn(store.root, log_path, workers=2, env=tokens, timeout=30) as port:
        with connect_warehouse(str(warehouse.duckdb_path)) as con:
            user_id, playlist_id = con.execute(
                "select owner_user_id, playlist_id from serving_smart_shuffle_pools order by playlist_id limit 1"
            ).fetchone()
            track_id = con.execute(
                "select track_id from serving_playlist_tracks where playlist_id = ? limit 1", [playlist_id]
            ).fetchone()[0]
        yield {
            "port": port,
            "store": store,
            "log": log_path,
            "tokens_file": tokens_file,
            "user_id": user_id,
            "playlist_id": playlist_id,
            "track_id": track_id,
        }


def get(
    server, target: str, token: str | None = ENV_TOKEN, method: str = "GET", timeout: float = PROMPT_SECONDS
) -> Answer:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return request(server["port"], method, target.format(**server), headers, timeout=timeout)


def assert_json_error(answer: Answer, status: int, code: str | None = None) -> None:
    assert answer.status == status, answer
    assert answer.headers.get("content-type") == "application/json", answer
    body = json.loads(answer.body)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert code is None or body["error"]["code"] == code, body


# Defect 4: slow clients.


def _trickle(sock: socket.socket, data: bytes, pause: float, stop: threading.Event) -> None:
    for byte in data:
        if stop.wait(pause):
            return
        try:
            sock.send(bytes([byte]))
        except OSError:
            return


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed (or reset) the connection before the socket's timeout."""
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_slow_clients_do_not_starve_the_server(server):
    """Idle connections, heads sent a byte every 0.3 s, bodies trickled after a head, and answers
    never read: none of them holds a thread, so normal requests are answered while they wait, and
    a head that is not complete within `keepalive` (5 s) is cut off. The sync workers this
    replaces answered nothing until their 30 s timeout killed them."""
    port, stop = server["port"], threading.Event()
    slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
    _idle, heads, bodies, unread = slow[:16], slow[16:24], slow[24:32], slow[32:]
    threads = [
        threading.Thread(
            target=_trickle, args=(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"y" * 200, 0.3, stop)
        )
        for sock in heads
    ]
    for sock in bodies:
        sock.sendall(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        threads.append(threading.Thread(target=_trickle, args=(sock, b"z" * 1000, 0.3, stop)))
    for sock in unread:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(
            f"GET /v1/users/{server['user_id']}/discover-weekly HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {ENV_TOKEN}\r\nConnection: close\r\n\r\n".encode()
        )
    for thread in threads:
        thread.start()
    try:
        time.sleep(1)
        for _ in range(12):  # a new connection each: both workers, many threads
            assert get(server, "/v1/users/{user_id}/discover-weekly").status == 200
            assert get(server, "/healthz", token=None).status == 200
        # The byte-at-a-time heads are cut off once `keepalive` has passed (bounded, not timed).
        deadline = time.monotonic() + 25
        for sock in heads:
            sock.settimeout(max(deadline - time.monotonic(), 0.1))
            assert _closed_by_server(sock), "the server kept a head that took longer than keepalive"
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        for sock in slow:
            sock.close()


# Defect 6: input checks, and JSON for every error.


@pytest.mark.parametrize(
    "target, code",
    [
        ("/v1/users/{user_id}/playlists/{playlist_id}/smart-shuffle?seed=abc%0A", "invalid_parameter"),
        ("/v1/users/{user_id}%0A/discover-weekly", "invalid_id"),
        ("/v1/users/{user_id}%0A/recommendations", "invalid_id"),
        ("/v1/users/{user_id}/heard/{track_id}%0A", "invalid_id"),
    ],
)
def test_an_id_with_a_trailing_newline_is_rejected(server, target, code):
    assert_json_error(get(server, target), 400, code)


@pytest.mark.parametrize(
    "limit", ["%D9%A1%D9%A0", "%EF%BC%95", "%E0%A5%A7"]
)  # ١٠ (Arabic-Indic), ５ (fullwidth), १ (Devanagari)
def test_limit_takes_ascii_digits_only(server, limit):
    assert_json_error(get(server, "/v1/users/{user_id}/recommendations?limit=" + limit), 400, "invalid_parameter")


@pytest.mark.parametrize(
    "method, target",
    [("POST", "/v1/users/{user_id}/discover-weekly"), ("DELETE", "/healthz"), ("PUT", "/openapi.json")],
)
def test_a_method_not_allowed_is_405_with_allow(server, method, target):
    answer = get(server, target, method=method)
    assert_json_error(answer, 405, "method_not_allowed")
    assert {m.strip() for m in answer.headers["allow"].split(",")} == {"GET", "HEAD", "OPTIONS"}


@pytest.mark.parametrize("target", ["/v1/users/{user_id}/discover-weekly", "/healthz"])
def test_options_is_204_with_allow_and_no_body(server, target):
    answer = get(server, target, method="OPTIONS")
    assert answer.status == 204 and answer.body == b"" and "content-type" not in answer.headers, answer
    assert {m.strip() for m in answer.headers["allow"].split(",")} == {"GET", "HEAD", "OPTIONS"}


@pytest.mark.parametrize(
    "raw, status, code",
    [
        (b"GET /healthz HTTP/1.1 junk\r\nHost: x\r\n\r\n", 400, "bad_request"),
        (b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", 400, "bad_request"),
        (b"GET /healthz HTTP/1.1\r\nBad Header: x\r\n\r\n", 400, "bad_request"),
        (b"get /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad_request"),
        (b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri_too_long"),
        (b"GET /" + b"a" * 100_000, 414, "uri_too_long"),  # no end in sight: answered from the event loop
        (b"GET /healthz HTTP/1.1\r\n" + b"X-A: b\r\n" * 40 + b"\r\n", 431, "headers_too_large"),
        (b"GET /healthz HTTP/1.1\r\nX-Big: " + b"b" * 5000 + b"\r\n\r\n", 431, "headers_too_large"),
        (
            b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"b" * 2000) for i in range(40)),
            431,
            "headers_too_large",
        ),  # no end in sight either
    ],
)
def test_requests_gunicorn_rejects_get_our_json_error(server, raw, status, code):
    assert_json_error(exchange(server["port"], raw), status, code)


# Defect 7: access control.


def test_v1_needs_a_token_and_the_rest_stays_open(server):
    for token in (None, "wrong-token-0123456789abcdef", f"{ENV_TOKEN}x", ENV_TOKEN[:-1]):
        answer = get(server, "/v1/users/{user_id}/heard/{track_id}", token=token)
        assert_json_error(answer, 401, "unauthorized")
        assert answer.headers["www-authenticate"].startswith('Bearer realm="tunesday"')
    basic = request(
        server["port"], "GET", f"/v1/users/{server['user_id']}/discover-weekly", {"Authorization": f"Basic {ENV_TOKEN}"}
    )
    assert_json_error(basic, 401, "unauthorized")
    assert_json_error(get(server, "/v1/no-such-route", token=None), 401, "unauthorized")  # routes are not revealed
    for token in (ENV_TOKEN, "another-token-0123456789", FILE_TOKEN):
        assert get(server, "/v1/users/{user_id}/heard/{track_id}", token=token).status == 200
    for open_route in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert get(server, open_route, token=None).status == 200, open_route


def _write_whole(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def _answered_by_every_worker(server, token: str, status: int) -> bool:
    """20 requests in a row, each on a new connection (both workers), all answered `status`."""
    return all(get(server, "/v1/users/{user_id}/heard/{track_id}", token=token).status == status for _ in range(20))


def _eventually(condition, failure: str, seconds: float = 20) -> None:
    """Wait for `condition` (a file change shows within auth.CHECK_SECONDS), failing after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.2)


def _restore_tokens_file(server, original: str) -> None:
    _write_whole(server["tokens_file"], original)
    _eventually(lambda: _answered_by_every_worker(server, FILE_TOKEN, 200), "the restored tokens file was not taken")


def test_a_token_file_is_rotated_without_a_restart(server):
    rotated = "rotated-token-0123456789abcdef"
    original = server["tokens_file"].read_text()
    _write_whole(server["tokens_file"], f"{rotated}\n")
    try:
        _eventually(
            lambda: (
                _answered_by_every_worker(server, rotated, 200) and _answered_by_every_worker(server, FILE_TOKEN, 401)
            ),
            "the rotated tokens file was not taken",
        )
        assert get(server, "/v1/users/{user_id}/heard/{track_id}").status == 200  # the environment's tokens stay
    finally:
        _restore_tokens_file(server, original)


def test_a_bad_tokens_file_lets_nobody_in_with_its_tokens(server):
    """Fails closed: one malformed line voids the file (the environment's tokens still work), with
    one line in the log that names the line, not a token; fixing the file brings its tokens back."""
    original = server["tokens_file"].read_text()
    _write_whole(server["tokens_file"], f"{FILE_TOKEN}\nshort\n")
    try:
        _eventually(lambda: _answered_by_every_worker(server, FILE_TOKEN, 401), "a malformed tokens file was taken")
        assert get(server, "/v1/users/{user_id}/heard/{track_id}").status == 200
        errors = [line for line in server["log"].read_text().splitlines() if "no request is let in" in line]
        assert errors and "token 2 is not 16 or more characters" in errors[-1] and "short" not in errors[-1], errors
    finally:
        _restore_tokens_file(server, original)


@pytest.mark.parametrize("tokens", ["short", "good-token-0123456789,with space in it", " , "])
def test_a_malformed_token_in_the_environment_stops_the_app(tmp_path, tokens):
    with pytest.raises(TokenError) as error:
        create_app({"SERVING_STORE": str(tmp_path), "API_TOKENS": tokens})
    assert str(error.value).startswith("TUNESDAY_API_TOKENS") and "\n" not in str(error.value)
    assert "short" not in str(error.value) and "space" not in str(error.value)


def test_a_malformed_token_stops_the_server_in_one_line(tmp_path):
    """The production server refuses to start, with one line on stderr and no traceback."""
    assert refused_start(tmp_path, {"TUNESDAY_API_TOKENS": "short"}) == [
        "tunesday serving: TUNESDAY_API_TOKENS: token 1 is not 16 or more characters of A-Z a-z 0-9 - . _ ~ + /"
    ]


def test_the_logs_carry_no_token_and_no_listener_id(server):
    user_id, port = server["user_id"], server["port"]
    leaky = [  # what gunicorn used to log whole: the request line, a header
        f"GET /v1/users/{user_id}/discover-weekly?token={ENV_TOKEN} HTTP/1.1 junk\r\n\r\n".encode(),
        f"GET /v1/users/{user_id}/heard/{ENV_TOKEN} HTTP/1.1\r\nBad Header: {ENV_TOKEN}\r\n\r\n".encode(),
        f"GET /v1/users/{user_id}/heard/x HTTP/1.1\r\n{ENV_TOKEN} {user_id}: x\r\n\r\n".encode(),
        f"GET /v1/users/{user_id}/discover-weekly HTTP/1.1\r\nAuthorization: Bearer {ENV_TOKEN}\r\n".encode()
        + b"X-A: b\r\n" * 40
        + b"\r\n",
    ]
    for raw in leaky:
        assert exchange(port, raw).status in (400, 431)
    assert get(server, "/v1/users/{user_id}/discover-weekly").status == 200
    assert get(server, "/v1/users/{user_id}/discover-weekly", token="wrong-token-0123456789abcdef").status == 401
    time.sleep(0.5)  # the workers' log lines are written by now
    log = server["log"].read_text()
    rejected = [
        line
        for line in map(json.loads, log.splitlines())
        if line["event"] == "request" and line["route"] == "unparsed" and line.get("client") == "127.0.0.1"
    ]
    assert len(rejected) >= len(leaky), log[-3000:]
    assert ENV_TOKEN not in log and user_id not in log, log[-3000:]


def test_the_server_opens_the_store_read_only(server):
    store = server["store"]
    reader = SnapshotReader(store)
    snapshot = reader.get()
    with pytest.raises(Exception, match="readonly"):
        reader.connection(snapshot).execute("create table written (x)")
    assert snapshot.connect().execute("pragma query_only").fetchone() == (1,)


def test_openapi_declares_the_bearer_scheme_and_401(server):
    document = json.loads(get(server, "/openapi.json", token=None).body)
    assert document["components"]["securitySchemes"]["bearer"] == {
        **document["components"]["securitySchemes"]["bearer"],
        "type": "http",
        "scheme": "bearer",
    }
    for path, operations in document["paths"].items():
        needs_token = path.startswith(("/v1/", "/explore"))  # the explorer shows listeners' data too
        assert (operations["get"].get("security") == [{"bearer": []}]) == needs_token, path
        assert ("401" in operations["get"]["responses"]) == needs_token, path


# Property-based: any request, a documented JSON answer.

KNOWN = ("user_id", "playlist_id", "track_id")
ADVERSARIAL = [
    "",
    ".",
    "..",
    "abc\n",
    "abc\r\n",
    "a b",
    "a/b",
    "%",
    "%0A",
    "a%2Fb",
    "١٠",
    "ｕ",
    "a\x00",
    "é",
    "x" * 129,
    "x" * 128,
    "-",
    ":",
    "_",
    "' or 1=1 --",
    "${jndi}",
    "{user_id}",
    "\ufeffa",
    "a\u2028",
]
ROUTES = [
    "/v1/users/{user_id}/discover-weekly",
    "/v1/users/{user_id}/recommendations",
    "/v1/users/{user_id}/playlists/{playlist_id}/smart-shuffle",
    "/v1/users/{user_id}/heard/{track_id}",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/v1/users/{user_id}",
    "/",
    "/v2/anything",
]
TOKENS = [ENV_TOKEN, ENV_TOKEN, ENV_TOKEN, None, "wrong-token-0123456789abcdef", "", "Bearer", "null"]
#: About 10 s here; in CI Hypothesis's "ci" profile (CI=true) makes the examples the same every run.
EXAMPLES = 300


def ids(known: str) -> st.SearchStrategy:
    return st.one_of(
        st.just("{" + known + "}"),
        st.sampled_from(ADVERSARIAL),
        st.text(max_size=40),
        st.from_regex(r"[A-Za-z0-9_:-]{1,130}", fullmatch=True),
        st.integers(129, 3000).map(lambda n: "y" * n),
    )


QUERY_VALUES = st.one_of(
    st.sampled_from(
        [
            "for_you",
            "discover_weekly",
            "radio",
            "1",
            "100",
            "101",
            "0",
            "-1",
            "007",
            "1e2",
            " 5",
            "5 ",
            "١٠",
            "99999999999",
            "abc\n",
            "",
        ]
    ),
    st.integers(-5, 200).map(str),
    st.text(max_size=20),
)
REQUESTS = st.fixed_dictionaries(
    {
        "method": st.sampled_from(
            ["GET"] * 6 + ["HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "get"]
        ),
        "route": st.sampled_from(ROUTES),
        "ids": st.fixed_dictionaries({name: ids(name) for name in KNOWN}),
        "query": st.dictionaries(
            st.sampled_from(["surface", "limit", "seed", "x", "limit[]"]), QUERY_VALUES, max_size=3
        ),
        "token": st.sampled_from(TOKENS),
        "scheme": st.sampled_from(["Bearer", "Bearer", "bearer", "Basic", "Token"]),
        "headers": st.dictionaries(
            st.from_regex(r"X-[A-Za-z0-9-]{1,20}", fullmatch=True),
            st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40),
            max_size=3,
        ),
        "body": st.one_of(st.none(), st.binary(max_size=64)),
    }
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=REQUESTS)
def test_any_request_gets_a_documented_json_answer(server, case):
    """Never a 5xx; a JSON body (but for HEAD, 204 and /metrics) that matches /openapi.json's
    schema for the route and status (errors: Error), 401 with WWW-Authenticate, 405 with Allow; a
    listener route answers 200 only when its ids and parameters are valid, and 400 never when they are."""
    oracle = _oracle(server)
    values = {name: server[name] if value == "{" + name + "}" else value for name, value in case["ids"].items()}
    target = oracle.target(case["route"], values, case["query"])
    headers = dict(case["headers"])
    if case["token"] is not None:
        headers["Authorization"] = f"{case['scheme']} {case['token']}"
    answer = request(server["port"], case["method"], target, headers, body=case["body"])
    oracle.check(
        case["method"],
        case["route"],
        values,
        case["query"],
        authorized=case["token"] == ENV_TOKEN and case["scheme"].lower() == "bearer",
        answer=answer,
    )


_ORACLES: dict = {}


def _oracle(server) -> Oracle:
    if server["port"] not in _ORACLES:
        _ORACLES[server["port"]] = Oracle(json.loads(get(server, "/openapi.json", token=None).body))
    return _ORACLES[server["port"]]


def test_threads_asking_for_the_first_snapshot_all_get_it(server):
    """A threaded worker's first requests arrive together: none may be answered 503 because
    another thread is still loading the snapshot (it was, once the worker had threads)."""
    for _ in range(20):
        reader, barrier, seen = SnapshotReader(server["store"]), threading.Barrier(8), []

        def ask(reader=reader, barrier=barrier, seen=seen):
            barrier.wait()
            seen.append(reader.get())

        threads = [threading.Thread(target=ask) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert None not in seen


def test_serving_leaves_the_snapshot_as_published(server):
    """Read-only in fact: after all the requests above, the snapshot file has its export's checksum."""
    current = server["store"].current()
    assert hashlib.sha256(Path(current["path"]).read_bytes()).hexdigest() == current["checksum_sha256"]
