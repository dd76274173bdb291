#!/usr/bin/env python3
"""The baseline for benches/pipeline.rs: what user_posting_emulation.py does
per post, minus its sleep, against the same proxy and the same tables.

Per post, as the original: draw the sleep (randrange(0, 2), not slept) and
the row (randint(0, 11000)) from random.seed(100); create an SQLAlchemy
engine (mysql+pymysql) and connect; SELECT * FROM <table> LIMIT k, 1 for
pinterest_data, geolocation_data and user_data; dict(row._mapping); then one
requests.request("POST", .../topics/<topic>) per record with the Kafka REST
JSON content type and json.dumps({"records": [{"value": row}]}, default=str).
Unlike the original, a non-2xx reply stops the run (so a broken setup cannot
look fast). Without SQLAlchemy it falls back to pymysql.connect per post.

Usage: python_baseline.py PROXY_URL DB_URL POSTS [TOPIC_PREFIX]
  DB_URL: mysql+pymysql://user[:password]@host:port/database
Prints one JSON line: {"posts", "seconds", "posts_per_s", "driver"}.
"""
import json
import random
import sys
import time
from urllib.parse import urlsplit

import pymysql
import requests

try:
    import sqlalchemy
    from sqlalchemy import text
except ImportError:  # the brief allows pymysql alone; the output says which
    sqlalchemy = None

TABLES = (("pinterest_data", "pin"), ("geolocation_data", "geo"), ("user_data", "user"))
HEADERS = {"Content-Type": "application/vnd.kafka.json.v2+json"}


def rows_sqlalchemy(db_url, random_row):
    engine = sqlalchemy.create_engine(db_url)
    rows = []
    with engine.connect() as connection:
        for table, _ in TABLES:
            result = None
            for row in connection.execute(text(f"SELECT * FROM {table} LIMIT {random_row}, 1")):
                result = dict(row._mapping)
            rows.append(result)
    return rows


def rows_pymysql(db_url, random_row):
    url = urlsplit(db_url.replace("mysql+pymysql://", "mysql://", 1))
    connection = pymysql.connect(host=url.hostname, port=url.port or 3306, user=url.username,
                                 password=url.password or "", database=url.path.lstrip("/"),
                                 cursorclass=pymysql.cursors.DictCursor)
    try:
        rows = []
        with connection.cursor() as cursor:
            for table, _ in TABLES:
                cursor.execute(f"SELECT * FROM {table} LIMIT {random_row}, 1")
                rows.append(cursor.fetchone())
        return rows
    finally:
        connection.close()


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    invoke_url, db_url, posts = sys.argv[1], sys.argv[2], int(sys.argv[3])
    prefix = sys.argv[4] if len(sys.argv) == 5 else "py"
    read_rows = rows_sqlalchemy if sqlalchemy else rows_pymysql
    random.seed(100)
    started = time.perf_counter()
    for _ in range(posts):
        random.randrange(0, 2)  # the original sleeps this many seconds here
        random_row = random.randint(0, 11000)
        for (_, suffix), row in zip(TABLES, read_rows(db_url, random_row)):
            if row is None:
                sys.exit(f"no row at offset {random_row}: is the database seeded?")
            payload = json.dumps({"records": [{"value": row}]}, default=str)
            response = requests.request("POST", f"{invoke_url}/topics/{prefix}.{suffix}",
                                        headers=HEADERS, data=payload)
            if not response.ok:
                sys.exit(f"POST {prefix}.{suffix} answered {response.status_code}: {response.text}")
    seconds = time.perf_counter() - started
    driver = f"sqlalchemy {sqlalchemy.__version__} + pymysql" if sqlalchemy else "pymysql (no sqlalchemy)"
    print(json.dumps({"posts": posts, "seconds": seconds, "posts_per_s": posts / seconds,
                      "driver": f"{driver} {pymysql.__version__}, requests {requests.__version__}"}))


if __name__ == "__main__":
    main()
