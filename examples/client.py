"""A platform's client of the psychometrics scoring service, in Python with httpx.

    psychometrics keys create --tenant acme          # prints the key once
    psychometrics serve &                            # http://127.0.0.1:8000
    PSYCHOMETRICS_API_KEY=pm_... python examples/client.py bank.json

Uploads an item bank (as ``psychometrics calibrate`` writes it), scores two respondents at
once, then stores one respondent's answers durably, retrying safely with the same
Idempotency-Key until the server acknowledges them (201).
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid

import httpx

BASE_URL = os.environ.get("PSYCHOMETRICS_URL", "http://127.0.0.1:8000")


def submit(client: httpx.Client, body: dict, *, attempts: int = 5) -> dict:
    """POST /v1/responses until acknowledged; the one idempotency key makes retries safe."""
    key = str(uuid.uuid4())  # one per submission, reused by every retry of it
    for attempt in range(attempts):
        try:
            response = client.post("/v1/responses", json=body, headers={"Idempotency-Key": key})
        except httpx.TransportError:  # the server went away before answering: try again
            time.sleep(0.5 * 2**attempt)
            continue
        if response.status_code == 429:
            time.sleep(float(response.headers.get("Retry-After", "1")))
            continue
        response.raise_for_status()  # 4xx other than 429: the request itself is wrong
        return response.json()
    raise RuntimeError(f"not acknowledged after {attempts} attempts; retry later with the same key {key}")


def main(bank_path: str) -> None:
    headers = {"Authorization": f"Bearer {os.environ['PSYCHOMETRICS_API_KEY']}"}
    with httpx.Client(base_url=BASE_URL, headers=headers, timeout=30.0) as client:
        with open(bank_path, encoding="utf-8") as handle:
            bank = client.post("/v1/banks", params={"name": "soft-skills"}, json=json.load(handle))
        bank.raise_for_status()
        bank_id = bank.json()["id"]
        print("bank", bank.json()["name"], "version", bank.json()["version"], bank_id)

        scored = client.post(f"/v1/banks/{bank_id}/score", json={
            "method": "eap",
            "responses": [{"respondent": "r1", "answers": {"com_01": 4, "com_02": 5, "tea_01": 3}},
                          {"respondent": "r2", "answers": {"com_01": 2, "tea_03": 1}}]})
        if scored.status_code == 422:  # names the respondent and item at fault
            sys.exit(json.dumps(scored.json()["detail"], indent=2))
        scored.raise_for_status()
        for person in scored.json()["scores"]:
            for scale, score in person["scales"].items():
                print(person["respondent"], scale, score["theta"], score["se"], score["T"], score["percentile"],
                      score["flags"])

        stored = submit(client, {"respondent": "r3", "answers": {"com_01": 5, "com_02": 4}, "bank": bank_id})
        print("stored", stored["id"], "communication T =", stored["scales"]["communication"]["T"])
        page = client.get("/v1/scores", params={"bank": bank_id, "limit": 100}).json()
        print(len(page["items"]), "stored scores on the first page; next page:", page["next"])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bank.json")
