#!/usr/bin/env python3
"""Walk every keyset page of GET /core/users and write the user ids and page cursors.

core.sh runs this after loading users: the get-user scenario draws from the ids
and the list-users scenario from the cursors. The walk also checks the load:
it fails unless the server lists exactly --expect users in full pages.
Only the Python standard library is used.
"""

import argparse
import json
import sys
import urllib.request

PAGE_SIZE = 100


def fetch(base_url, path, token):
    request = urllib.request.Request(
        base_url + path,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.api+json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", required=True, help="server address, such as http://127.0.0.1:8080")
    parser.add_argument("--token-file", required=True, help="file that contains the bearer token")
    parser.add_argument("--expect", type=int, required=True, help="number of users the server must list")
    parser.add_argument("--ids", required=True, help="output file: one user id a line")
    parser.add_argument("--cursors", required=True, help="output file: one links.next path a line")
    args = parser.parse_args()

    with open(args.token_file, encoding="utf-8") as file:
        token = file.read().strip()

    first = fetch(args.base_url, f"/core/users?page[size]={PAGE_SIZE}", token)
    total = first["meta"].get("total_count")
    if total != args.expect:
        sys.exit(f"error: the server lists {total} users (meta.total_count), expected {args.expect}")

    ids = []
    cursors = []
    page = first
    while True:
        ids.extend(user["id"] for user in page["data"])
        next_path = page["links"].get("next")
        if not next_path:
            break
        page = fetch(args.base_url, next_path, token)
        if not page["data"]:
            break
        if len(page["data"]) != PAGE_SIZE:
            # A short page is the last one; the list scenario measures full pages only.
            ids.extend(user["id"] for user in page["data"])
            break
        cursors.append(next_path)

    if len(ids) != args.expect or len(set(ids)) != len(ids):
        sys.exit(f"error: walking links.next returned {len(ids)} ids ({len(set(ids))} distinct), expected {args.expect}")

    with open(args.ids, "w", encoding="utf-8") as file:
        file.write("\n".join(ids) + "\n")
    with open(args.cursors, "w", encoding="utf-8") as file:
        file.write("\n".join(cursors) + "\n")
    print(f"collected {len(ids)} user ids and {len(cursors)} cursors of full {PAGE_SIZE}-user pages")


if __name__ == "__main__":
    main()
