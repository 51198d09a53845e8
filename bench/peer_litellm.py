"""A peer's cached answer in a fresh process: litellm with its disk cache vs our cached `query`.

Same question, same machine, same fake server (tests/fakeserver.py on 127.0.0.1). Each tool is primed
once (one real request to the fake), then both are timed answering from their caches in fresh
processes, alternately (litellm, ours, litellm, …); the figure is the median of the per-pair ratios
litellm / ours. The fake server must receive no request during the timed runs (both were cache hits).

litellm runs in its own throwaway venv under bench/.work/venvs (it pins openai < 3, which would
downgrade the package's own). Pinned to 1.106.2, the version measured for docs/reference.md#measuring, checked on
PyPI (never 1.82.7 or 1.82.8, which were compromised). A cache hit on a plain install crashes until
fastapi, orjson and soundfile are installed too (litellm#42195), so they are. LITELLM_LOCAL_MODEL_COST_MAP
keeps its import from fetching the price map from the network. Skipped in quick mode (the install
takes minutes).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from .common import BENCH_KEY, BIN, Row, ab, ensure_venv, fake_server, isolated_env, ms

LITELLM = "1.106.2"
REQUIREMENTS = (f"litellm=={LITELLM}", "diskcache", "fastapi", "orjson", "soundfile")
QUESTION = "What does a pre-commit hook receive on standard input?"

SCRIPT = """
import sys
import litellm
from litellm.caching.caching import Cache

litellm.cache = Cache(type="disk", disk_cache_dir=sys.argv[1])
resp = litellm.completion(
    model="openai/gpt-4o-mini",
    messages=[{"role": "user", "content": sys.argv[2]}],
    api_base=sys.argv[3],
    api_key=sys.argv[4],
    temperature=0,
    caching=True,
)
print("cache_hit=%s" % (resp._hidden_params or {}).get("cache_hit"))
"""


def run(quick: bool, pairs: int | None = None) -> list[Row]:
    name = f"peer: litellm {LITELLM} disk-cache hit vs our cached `query`, fresh process"
    if quick:
        return [Row(name, "skipped in quick mode")]
    pairs = pairs or 10
    python = ensure_venv(f"litellm-{LITELLM}", REQUIREMENTS, timeout=1500)
    with tempfile.TemporaryDirectory(prefix="sa-bench-peer-") as tmp, fake_server() as fake:
        base = Path(tmp)
        script = base / "litellm_call.py"
        script.write_text(SCRIPT)
        env = isolated_env(
            base / "home",
            OPENAI_API_KEY=BENCH_KEY,
            OPENAI_BASE_URL=fake.url,
            SYMPHONY_ASSIST_CACHE_DIR=str(base / "cache"),
            LITELLM_LOCAL_MODEL_COST_MAP="True",
            LITELLM_TELEMETRY="False",
        )
        peer = [str(python), str(script), str(base / "litellm-cache"), QUESTION, fake.url, BENCH_KEY]
        ours = [str(BIN / "symphony-assist"), "query", QUESTION]
        for cmd, what in ((peer, "litellm"), (ours, "symphony-assist query")):
            for attempt in ("prime", "check"):
                proc = subprocess.run(cmd, cwd=base, env=env, capture_output=True, text=True, timeout=300, check=False)
                if proc.returncode != 0:
                    raise RuntimeError(f"{what} ({attempt}) exited {proc.returncode}: {proc.stderr.strip()[-400:]}")
                if what == "litellm" and attempt == "check" and "cache_hit=True" not in proc.stdout:
                    raise RuntimeError(f"litellm did not answer from its cache: {proc.stdout.strip()[-200:]}")
        primed = len(fake.chat_requests)
        result = ab(peer, ours, pairs, cwd=base, env=env)
        extra = len(fake.chat_requests) - primed
    return [
        Row(
            name,
            f"litellm {ms(result.median_a)}, {result.rss_a_mib:.0f} MiB",
            f"ours {ms(result.median_b)}, {result.rss_b_mib:.0f} MiB",
            f"{result.ratio:.1f}× (litellm / ours)",
            "reported (ours faster)",
            result.ratio > 1.0 and extra == 0 and primed == 2,
            {**result.summary(), "requests_while_primed": primed, "requests_during_timed_runs": extra},
        )
    ]
