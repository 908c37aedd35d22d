"""Benchmark: automatic intake of a 500-article feed, then a re-poll of the unchanged feed (issue 12).

A Government-Portal-like RSS feed of 500 Vietnamese articles, each with its article page, is
served by the intake fixture server on loopback (central/intake/fixtures.py). A central on a
fresh SQLite database (``--postgresql``: a throwaway PostgreSQL cluster) polls it once: one
request for the feed and one per article page, trafilatura's text extraction, a draft per
article through ``Catalog.add_item`` and its provenance row. Then it polls again: the feed has
not changed, so the answer is one request answered 304 and nothing else.

Figures: first poll's wall time, per article, requests; time spent extracting text; the
re-poll's time, requests and status; drafts made (must be 500, all unapproved).

Run: .venv/bin/python bench/intake.py [--articles 500] [--postgresql]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from central.catalog import Catalog  # noqa: E402
from central.config import CentralConfig  # noqa: E402
from central.intake import articles as articles_module  # noqa: E402
from central.intake.fixture_server import FixtureServer  # noqa: E402
from central.intake.fixtures import install_portal  # noqa: E402
from central.intake.service import Intake  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=500)
    parser.add_argument("--postgresql", action="store_true", help="a throwaway PostgreSQL cluster instead of SQLite")
    args = parser.parse_args()

    cluster = None
    data = Path(tempfile.mkdtemp(prefix="bench-intake-"))
    url = f"sqlite:///{data / 'central.db'}"
    if args.postgresql:
        from tests.support.postgres import PostgresCluster

        cluster = PostgresCluster().start()
        url = cluster.create_database("bench_intake")
    extract_times: list[float] = []
    original = articles_module.trafilatura.extract

    def timed_extract(*a: object, **k: object) -> object:
        started = time.perf_counter()
        try:
            return original(*a, **k)
        finally:
            extract_times.append(time.perf_counter() - started)

    articles_module.trafilatura.extract = timed_extract  # type: ignore[assignment]
    try:
        with FixtureServer() as server, Catalog(data, config=CentralConfig(data_dir=data, database_url=url)) as catalog:
            portal = install_portal(server, articles=args.articles, huge_bytes=1)
            intake = Intake(catalog)
            intake.sources.add("portal", "feed", portal.feed)
            server.reset_hits()
            started = time.perf_counter()
            first = intake.poll("portal")
            first_s = time.perf_counter() - started
            first_requests = server.total_hits()
            server.reset_hits()
            started = time.perf_counter()
            again = intake.poll("portal")
            repoll_ms = (time.perf_counter() - started) * 1000
            repoll_requests = server.total_hits()
            rows = catalog.list_items()
            drafts = sum(1 for r in rows if r["state"] == "draft")
            approved = sum(1 for r in rows if r["state"] != "draft")
            intake.close()
    finally:
        articles_module.trafilatura.extract = original  # type: ignore[assignment]
        if cluster is not None:
            cluster.stop()
    if first.error or again.error:
        print(f"error: {first.error or again.error}", file=sys.stderr)
        return 1
    engine = "postgresql" if args.postgresql else "sqlite"
    per_article_ms = first_s * 1000 / max(1, first.new)
    extract_ms = statistics.median(extract_times) * 1000 if extract_times else 0.0
    print(f"{'measure':<44}{'value':>12}")
    print(f"{'engine':<44}{engine:>12}")
    print(f"{'articles in the feed':<44}{first.entries:>12}")
    print(f"{'first poll: wall time (s)':<44}{first_s:>12.2f}")
    print(f"{'first poll: per article (ms)':<44}{per_article_ms:>12.1f}")
    print(f"{'first poll: requests (feed + pages)':<44}{first_requests:>12}")
    print(f"{'text extraction, median per page (ms)':<44}{extract_ms:>12.1f}")
    print(f"{'re-poll of the unchanged feed (ms)':<44}{repoll_ms:>12.1f}")
    print(f"{'re-poll: requests':<44}{repoll_requests:>12}")
    print(f"{'re-poll: HTTP status':<44}{again.status!s:>12}")
    print(f"{'drafts made (unapproved)':<44}{drafts:>12}")
    print(f"{'items approved or revoked (must be 0)':<44}{approved:>12}")
    print(f"RESULT engine={engine} articles={first.entries} first_poll_s={first_s:.2f} "
          f"per_article_ms={per_article_ms:.1f} first_requests={first_requests} extract_median_ms={extract_ms:.1f} "
          f"repoll_ms={repoll_ms:.1f} repoll_requests={repoll_requests} repoll_status={again.status} "
          f"drafts={drafts} approved={approved}")
    return 0 if drafts == args.articles and approved == 0 and repoll_requests == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
