"""`jupyter agnes` without a running server: it opens the store itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agnes_server.cli import main
from tests._pg import PgCluster


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_demo_then_status_and_listing(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--data-dir", str(data), "demo", "--rows", "6000", "--days", "60",
                         "--path", str(tmp_path / "lake"))
    assert code == 0, err
    assert "source 'demo' with tables orders, customers, events" in out
    assert "packages sales, product-analytics and recipes top-customers, daily-events" in out
    code, out, _ = run(capsys, "--data-dir", str(data), "--json", "status")
    status = json.loads(out)
    assert (status["server"], status["sources"], status["tables"]) == ("not running", 1, 3)
    code, out, _ = run(capsys, "--data-dir", str(data), "--json", "grants", "list")
    grants = {(g["resource_type"], g["resource_id"], g["requirement"]) for g in json.loads(out)}
    assert grants == {("table", "orders", "available"), ("table", "customers", "available"),
                      ("table", "events", "available"), ("package", "sales", "required"),
                      ("package", "product-analytics", "available"), ("recipe", "top-customers", "available"),
                      ("recipe", "daily-events", "available")}
    # idempotent: running it again updates rather than failing
    code, _, err = run(capsys, "--data-dir", str(data), "demo", "--rows", "6000", "--days", "60",
                       "--path", str(tmp_path / "lake"))
    assert code == 0, err


def test_env_var_chooses_the_data_dir(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AGNES_DATA_DIR", str(data))
    code, out, _ = run(capsys, "--json", "status")
    assert code == 0
    assert json.loads(out)["data_dir"] == str(data.resolve())


def test_sources_tables_extract_and_runs(data: Path, demo_lake_path: Path, pg_cluster: PgCluster,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    d = ("--data-dir", str(data))
    assert run(capsys, *d, "sources", "add", "lake", "--type", "lake", "-o", f"path={demo_lake_path}")[0] == 0
    assert run(capsys, *d, "sources", "add", "pg", "--type", "postgres", "--secret", "dsn=AGNES_TEST_PG_DSN")[0] == 0
    code, out, _ = run(capsys, *d, "sources", "test", "pg")
    assert code == 0
    assert out.startswith("OK: server_version=PostgreSQL 15")
    code, out, _ = run(capsys, *d, "--json", "sources", "discover", "pg")
    assert "orders" in {t["source_table"] for t in json.loads(out)["tables"]}
    code, _, err = run(capsys, *d, "tables", "register", "pg_orders", "--source", "pg", "--bucket", "sales",
                       "--source-table", "orders", "--mode", "local", "--primary-key", "id", "--schedule", "every 6h")
    assert code == 0, err
    code, out, _ = run(capsys, *d, "tables", "extract", "pg_orders")
    assert code == 0
    assert out.startswith("succeeded: 1000 rows")
    code, out, _ = run(capsys, *d, "--json", "tables", "runs", "pg_orders")
    assert json.loads(out)["runs"][0]["status"] == "succeeded"


def test_users_groups_grants(data: Path, demo_lake_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = ("--data-dir", str(data))
    run(capsys, *d, "sources", "add", "lake", "--type", "lake", "-o", f"path={demo_lake_path}")
    run(capsys, *d, "tables", "register", "orders", "--source", "lake", "--source-table", "orders")
    assert run(capsys, *d, "users", "add", "ann", "--display-name", "Ann")[0] == 0
    assert run(capsys, *d, "groups", "add", "analysts")[0] == 0
    assert run(capsys, *d, "groups", "add-member", "analysts", "ann")[0] == 0
    code, out, _ = run(capsys, *d, "--json", "grants", "add", "--group", "analysts", "--table", "orders",
                       "--requirement", "required")
    grant = json.loads(out)
    assert code == 0
    assert grant["requirement"] == "required"
    code, out, _ = run(capsys, *d, "users", "token", "ann", "--name", "laptop")
    assert code == 0
    assert out.startswith("agnes_")
    assert run(capsys, *d, "grants", "delete", grant["id"])[0] == 0
    code, out, _ = run(capsys, *d, "--json", "grants", "list")
    assert json.loads(out) == []


def test_errors_print_one_line_and_a_hint(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--data-dir", str(data), "tables", "register", "x", "--source", "nope",
                         "--source-table", "t")
    assert code == 1
    assert out == ""
    lines = err.strip().splitlines()
    assert lines[0] == "error: no source 'nope'"
    assert lines[1].startswith("hint: ")
    code, _, err = run(capsys, "--data-dir", str(data), "tables", "extract", "nope")
    assert code == 1
    assert "no table 'nope'" in err


def test_tables_describe_sets_admin_descriptions(data: Path, demo_lake_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    d = ("--data-dir", str(data))
    run(capsys, *d, "sources", "add", "lake", "--type", "lake", "-o", f"path={demo_lake_path}")
    run(capsys, *d, "tables", "register", "orders", "--source", "lake", "--source-table", "orders")
    code, out, err = run(capsys, *d, "tables", "describe", "orders", "--description", "Shop orders",
                         "-c", "amount=Total in EUR, VAT included", "--column", "status=Lifecycle state")
    assert code == 0, err
    assert out.splitlines() == ["orders: Shop orders", "  amount: Total in EUR, VAT included",
                                "  status: Lifecycle state"]
    code, out, _ = run(capsys, *d, "--json", "tables", "describe", "orders", "-c", "status=")
    assert json.loads(out) == {"id": "orders", "description": "Shop orders",
                               "column_descriptions": {"amount": "Total in EUR, VAT included"}}
    code, out, err = run(capsys, *d, "tables", "describe", "orders", "-c", "amount=" + "x" * 1001)
    assert code != 0
    assert "1000" in err
    code, _, err = run(capsys, *d, "tables", "describe", "orders", "-c", "no-equals-sign")
    assert code != 0
    assert "NAME=TEXT" in err
