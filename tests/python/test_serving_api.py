"""The HTTP API with Flask's test client, on a snapshot exported from the test warehouse."""

import datetime as dt
import json
import re

import pytest
from conftest import RUN_DATE
from openapi_check import Oracle

from serving.app import create_app
from serving.openapi import OPENAPI
from serving.snapshot import export
from serving.store import Store
from serving.warehouse import DuckDBWarehouse
from tunesday.bloom import BloomFilter
from tunesday.warehouse import connect as connect_warehouse


def publish(warehouse, store: Store) -> dict:
    source = DuckDBWarehouse(str(warehouse.duckdb_path))
    try:
        return export(source, store, RUN_DATE, progress=lambda line: None)
    finally:
        source.close()


@pytest.fixture(scope="module")
def served(warehouse, tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("serving"))
    publish(warehouse, store)
    app = create_app({"SERVING_STORE": str(store.root)})
    with connect_warehouse(str(warehouse.duckdb_path)) as con:
        user_id, playlist_id = con.execute("""
            select p.owner_user_id, p.playlist_id from serving_smart_shuffle_pools p
            group by all order by count(*) desc, p.playlist_id limit 1
        """).fetchone()
        playlist = [
            r[0]
            for r in con.execute(
                "select track_id from serving_playlist_tracks where playlist_id = ? order by playlist_position",
                [playlist_id],
            ).fetchall()
        ]
        played = [
            r[0]
            for r in con.execute(
                "select track_id from int_user_heard_tracks where user_id = ? limit 50", [user_id]
            ).fetchall()
        ]
        expected_dw = [
            r[0]
            for r in con.execute(
                "select track_id from serving_recommendations where user_id = ? and surface = 'discover_weekly' "
                "order by surface_position",
                [user_id],
            ).fetchall()
        ]
    return {
        "client": app.test_client(),
        "store": store,
        "user_id": user_id,
        "playlist_id": playlist_id,
        "playlist": playlist,
        "played": played,
        "expected_dw": expected_dw,
        "warehouse": warehouse,
    }


def test_discover_weekly(served):
    response = served["client"].get(f"/v1/users/{served['user_id']}/discover-weekly")
    assert response.status_code == 200 and response.is_json
    body = response.get_json()
    assert body["run_date"] == RUN_DATE and body["surface"] == "discover_weekly"
    assert [item["track_id"] for item in body["items"]] == served["expected_dw"] and len(body["items"]) == 30
    assert all(item["reasons"] and item["track_name"] and item["artist_name"] for item in body["items"])


def test_recommendations_surface_and_limit(served):
    client, user_id = served["client"], served["user_id"]
    body = client.get(f"/v1/users/{user_id}/recommendations?surface=for_you&limit=7").get_json()
    assert body["surface"] == "for_you" and [item["position"] for item in body["items"]] == list(range(1, 8))
    # For You's order: best score first within new and within known artists, the two interleaved
    # at the listener's share of new artists (macro for_you_ranked).
    for new_artist in (True, False):
        scores = [item["score"] for item in body["items"] if item["is_new_artist"] is new_artist]
        assert scores == sorted(scores, reverse=True)
    assert len(client.get(f"/v1/users/{user_id}/recommendations?surface=discover_weekly").get_json()["items"]) == 30


def test_each_listener_is_served_their_variant_and_told_which(served):
    """For You says the experiment and the listener's variant (as tunesday.experiments assigns it)
    and lists what that variant ranked; Discover Weekly, which no experiment orders, says none."""
    from tunesday.experiments import read_experiments

    experiment = read_experiments()["for_you_ranker_vs_blend"]
    client = served["client"]
    with connect_warehouse(str(served["warehouse"].duckdb_path)) as con:
        users = [
            row[0]
            for row in con.execute(
                "select distinct user_id from serving_recommendations where surface = 'for_you' "
                "order by user_id limit 40"
            ).fetchall()
        ]
        expected = {
            user: [
                row[0]
                for row in con.execute(
                    "select track_id from serving_recommendations where user_id = ? and surface = 'for_you' "
                    "order by surface_position",
                    [user],
                ).fetchall()
            ]
            for user in users
        }
    variants = set()
    for user in users:
        body = client.get(f"/v1/users/{user}/recommendations?surface=for_you").get_json()
        variant = experiment.variant_of(user).name
        assert body["experiment"] == {"id": experiment.experiment_id, "variant": variant}, user
        assert [item["track_id"] for item in body["items"]] == expected[user]
        assert client.get(f"/v1/users/{user}/discover-weekly").get_json()["experiment"] is None
        variants.add(variant)
    assert variants == {"blend", "control"}


def test_smart_shuffle_weaves_one_unheard_recommendation_after_every_three_tracks(served):
    client, user_id, playlist_id = served["client"], served["user_id"], served["playlist_id"]
    url = f"/v1/users/{user_id}/playlists/{playlist_id}/smart-shuffle"
    body = client.get(f"{url}?seed=42").get_json()
    items = body["items"]
    own = [item["track_id"] for item in items if not item["recommended"]]
    assert sorted(own) == sorted(served["playlist"]) and own != served["playlist"]  # shuffled, all there
    recommended = [item for item in items if item["recommended"]]
    assert recommended and all(item["track_id"] not in served["playlist"] for item in recommended)
    for position, item in enumerate(items, start=1):
        assert item["position"] == position
    # One recommendation after every three playlist tracks (while the pool lasts).
    own_seen = 0
    for previous, item in zip(items, items[1:]):
        own_seen += not previous["recommended"]
        if item["recommended"]:
            assert own_seen % 3 == 0 and not previous["recommended"]
    with connect_warehouse(str(served["warehouse"].duckdb_path)) as con:
        m, k = con.execute(
            "select bit_count, hash_count from serving_bloom_filters where user_id = ?", [user_id]
        ).fetchone()
        words = dict(
            con.execute(
                "select word_index, word from serving_bloom_filter_words where user_id = ?", [user_id]
            ).fetchall()
        )
    heard = BloomFilter(m, k, words)
    assert not any(heard.might_contain(item["track_id"]) for item in recommended)
    assert client.get(f"{url}?seed=42").get_json() == body  # deterministic for a seed
    assert client.get(f"{url}?seed=43").get_json()["items"] != items


def test_heard(served):
    client, user_id = served["client"], served["user_id"]
    for track_id in served["played"]:
        assert client.get(f"/v1/users/{user_id}/heard/{track_id}").get_json()["heard"] == "probably heard"
    assert client.get(f"/v1/users/{user_id}/heard/never-a-track").get_json()["heard"] == "not heard"


@pytest.mark.parametrize(
    "url, status, code",
    [
        ("/v1/users/bad%20id/discover-weekly", 400, "invalid_id"),
        ("/v1/users/" + "x" * 129 + "/discover-weekly", 400, "invalid_id"),
        ("/v1/users/{user}/recommendations?limit=0", 400, "invalid_parameter"),
        ("/v1/users/{user}/recommendations?limit=abc", 400, "invalid_parameter"),
        ("/v1/users/{user}/recommendations?surface=radio", 400, "invalid_parameter"),
        ("/v1/users/{user}/playlists/{playlist}/smart-shuffle?seed=%00", 400, "invalid_parameter"),
        ("/v1/users/{user}/heard/bad%27id", 400, "invalid_id"),
        ("/v1/users/nobody/discover-weekly", 404, "unknown_listener"),
        ("/v1/users/{user}/playlists/nothing/smart-shuffle", 404, "unknown_playlist"),
        ("/v2/anything", 404, "not_found"),
    ],
)
def test_errors_are_json_with_a_code(served, url, status, code):
    response = served["client"].get(url.format(user=served["user_id"], playlist=served["playlist_id"]))
    assert response.status_code == status and response.is_json
    assert response.get_json()["error"]["code"] == code and "Traceback" not in response.get_data(as_text=True)


def test_no_snapshot_means_503_and_not_ready(tmp_path):
    client = create_app({"SERVING_STORE": str(tmp_path)}).test_client()
    response = client.get("/v1/users/u1/discover-weekly")
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "no_snapshot"
    assert client.get("/readyz").status_code == 503 and client.get("/healthz").status_code == 200


def test_hot_swap_takes_a_new_snapshot_and_never_a_broken_one(warehouse, tmp_path):
    store = Store(tmp_path)
    first = publish(warehouse, store)
    client = create_app({"SERVING_STORE": str(tmp_path)}).test_client()
    assert client.get("/readyz").get_json()["snapshot_id"] == first["snapshot_id"]
    second = publish(warehouse, store)
    assert client.get("/readyz").get_json()["snapshot_id"] == second["snapshot_id"]
    # A CURRENT naming a missing snapshot, then garbage: the good one stays.
    store.current_file.write_text(json.dumps({**second, "snapshot_id": "2001-01-01_missing"}))
    ready = client.get("/readyz").get_json()
    assert ready["snapshot_id"] == second["snapshot_id"] and ready["last_swap_error"]
    store.current_file.write_text("{not json")
    assert client.get("/readyz").get_json()["snapshot_id"] == second["snapshot_id"]


def test_openapi_documents_every_route_and_response(served):
    client = served["client"]
    document = client.get("/openapi.json").get_json()
    assert document == json.loads(json.dumps(OPENAPI))
    app_routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for rule in client.application.url_map.iter_rules()
        if rule.endpoint != "static"
    } - {"/openapi.json"}
    assert app_routes == set(document["paths"])
    schemas = document["components"]["schemas"]
    user_id, playlist_id = served["user_id"], served["playlist_id"]
    for url, schema in [
        (f"/v1/users/{user_id}/discover-weekly", "Surface"),
        (f"/v1/users/{user_id}/playlists/{playlist_id}/smart-shuffle", "SmartShuffle"),
        (f"/v1/users/{user_id}/heard/t1", "Heard"),
        ("/v1/users/nobody/discover-weekly", "Error"),
        ("/readyz", "Readiness"),
    ]:
        body = client.get(url).get_json()
        assert set(schemas[schema]["required"]) <= set(body) <= set(schemas[schema]["properties"]), url
        if "items" in body:
            item_schema = schemas[schema]["properties"]["items"]["items"]
            for item in body["items"]:
                assert set(item_schema["required"]) <= set(item) <= set(item_schema["properties"]), url


def test_metrics_count_requests_per_route(served):
    client = served["client"]
    client.get(f"/v1/users/{served['user_id']}/discover-weekly")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'tunesday_http_requests_total{route="/v1/users/<user_id>/discover-weekly",status="200"}' in text
    assert "tunesday_http_request_duration_seconds_bucket" in text and "tunesday_snapshot_age_seconds " in text


def test_readiness_and_metrics_say_when_the_snapshot_was_built(served):
    """/readyz and the gauges beside tunesday_snapshot_age_seconds carry the served snapshot's build
    time: what the stale-snapshot alert and an operator look at (deploy/prometheus/alerts.yml)."""
    client = served["client"]
    built_at = served["store"].current()["built_at"]
    built = dt.datetime.fromisoformat(built_at)
    ready = client.get("/readyz").get_json()
    Oracle(client.get("/openapi.json").get_json()).validate("Readiness", ready)
    age = (dt.datetime.now(dt.UTC) - built).total_seconds()
    assert ready["built_at"] == built_at and 0 <= ready["age_seconds"] <= age + 0.1
    gauges = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in client.get("/metrics").get_data(as_text=True).splitlines()
        if line.startswith("tunesday_snapshot_")
    }
    assert gauges["tunesday_snapshot_built_timestamp_seconds"] == pytest.approx(built.timestamp(), abs=0.001)
    # The gauge is printed to the millisecond, so it may round down below `age` measured just before.
    assert age - 0.0005 <= gauges["tunesday_snapshot_age_seconds"] <= age + 60
