"""Measure review quality on labelled cases: the engine behind `symphony-assist eval` (#12).

Every case goes through the normal pipeline with the run's one `Assistant`: a diff is parsed by
`git.parse_patch` and reviewed by `review.review_changes(changes=...)`, failing tests go to
`explain.explain_failures` (the local classifier when offline). The cache, the budget (`--max-cost` caps
the whole evaluation) and redaction apply as in a real review. Offline, or without a key, the local
analyzers answer: the built-in suite (`evalcases/`) is then a regression gate on their precision and
recall (`symphony-assist --offline eval --check`).

Case format
-----------
A case set is a folder (every `*.case` and `*.jsonl` file under it, in sorted path order) or one such
file. A `.case` file is a header of `key: value` lines, then sections, each opened by a `%% NAME` line:

    about: SQL assembled with str.format in the session clean-up job
    expect: app/sessions.py:14 injection
    allow: app/sessions.py:3 maintainability
    %% diff
    diff --git a/app/sessions.py b/app/sessions.py
    --- a/app/sessions.py
    +++ b/app/sessions.py
    @@ -12 +12 @@ def purge(db, user):
    ...

Header keys (blank lines and lines starting with `#` are ignored):
  id         the case's name; default: its path in the folder without `.case` (`risky/py-sql-format`)
  about      one line on what the case shows
  expect     `PATH:LINE[-END] FAMILY`, repeatable: a finding of FAMILY (see `FAMILIES`) must touch those
             lines of the new file, and they must include an added line. `expect: none` marks a clean
             case (a diff that only looks risky): every finding on it is a false positive.
  allow      `PATH:LINE[-END] FAMILY` (or `*` for any family): a finding there is acceptable but not
             required, counted neither right nor wrong (an unused import in a snippet, say)
  test       failing tests: the pytest node id
  when       failing tests: setup | call | teardown | collect (default: call)
  exception  failing tests: the exception type as pytest reported it
  path, line failing tests: where pytest located the test
  category   failing tests: the expected category (see `CATEGORIES`); alternatives separated by `|`
Families: concurrency, crypto, debug-leftover, deserialization, error-handling, filesystem, injection,
  insecure-default, logic, maintainability, merge-conflict, other, resource-leak, secrets, supply-chain, tls.
Categories (the explain frame's, which also accept the local classifier's finer names): assertion-mismatch,
  attribute-error, collection-error, fixture-error, flaky, float-comparison, import-error, index-error,
  io-error, key-error, network-error, none-attribute, other, timeout, type-error, value-error.
Sections:
  %% diff                 a unified diff with `diff --git` headers: a diff case
  %% longrepr             pytest's failure text (`report.longreprtext`): a failing-test case
  %% test_source, %% code_under_test   optional context the pytest plugin would send with a failure

The loader recounts every hunk's line counts (a hand-written hunk needs only its start lines) and reads
an empty line inside a hunk as a blank context line. A `.jsonl` file holds one case per line as a JSON
object with the same keys (`expect` and `allow` as lists of the same strings, `category` a string or a
list) and the sections as string fields (`diff`, `longrepr`, `test_source`, `code_under_test`).

Fake secrets are never written into a case: a placeholder (`{{FAKE_AWS_KEY}}`, `{{FAKE_AWS_SECRET}}`,
`{{FAKE_GITHUB_TOKEN}}`, `{{FAKE_SLACK_TOKEN}}`, `{{FAKE_OPENAI_KEY}}`, `{{FAKE_STRIPE_KEY}}`,
`{{FAKE_PASSWORD}}`, `{{FAKE_PRIVATE_KEY}}`) is replaced at load time by a credential of that format,
drawn from a generator seeded with the case id and the placeholder's position, so each run sees the same
text (stable figures, stable cache keys). A multi-line value (a PEM key) repeats the diff prefix of its
line on every line it adds.

Matching
--------
A finding matches an expectation when it is on the same path, its family (`family_of(rule)`: the one
`FAMILIES` table, unknown rules are "other") is the expected one, and its lines [line, end_line] overlap
the expected lines widened by `TOLERANCE` (1) on each side. One line of slack because a model often
points at the line above or below (a statement's first line, a decorator, the argument on the next
line); more would credit a finding about the neighbouring statement. A finding that matches an
expectation is a true positive (two findings about one problem both are); one that matches none and no
`allow` is a false positive; an expectation no finding matches is a miss. A failing test is answered
right when its category, mapped by `category_of` onto the explain frame's categories, is one expected.

Figures
-------
precision = true positives / (true + false positives); recall = expectations found / expectations;
false positives per clean case; failing tests categorised correctly; each also per family, per
template and per failure category; and the cost: requests, tokens, USD, cache hits, local answers.
Every figure is a count or a ratio of counts rounded to 4 places, in a fixed order, with no time in it:
an offline run prints the same JSON every time.

Comparison and gate
-------------------
`compare(before, after)` says what got better or worse between two `--json` documents: the headline
figures, each family's precision and recall, each failure category, each case. `check(doc, floors)`
lists every figure below its floor (precision, recall, failure accuracy, per-family precision and
recall) or above its ceiling (false positives per clean case); the floors live in `thresholds.json`
next to the cases, one entry per engine ("local" for the offline analyzers, else the model's name).
`thresholds_from(doc)` gives the floors a run achieves; raise them when the analyzers improve.

Layout: `cases.py` reads the format above, `families.py` holds the two tables, `runner.py` drives the
pipeline, `scoring.py` turns answers into figures, `gate.py` compares runs and checks floors.
"""

from __future__ import annotations
