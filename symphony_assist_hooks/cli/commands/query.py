"""`symphony-assist query`: one question, or a file of them answered in as few requests as possible.

`query "INSTRUCTION" --batch-file FILE` asks every line of FILE under the shared INSTRUCTION."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ...assistant import Assistant
from ...assistant.request import Item, Request, Response
from ...config import Settings
from ...errors import EXIT_NO_KEY, EXIT_OK, NO_ANSWER, UsageError
from ...logsafe import inert, inert_json, inert_line
from ...terminal.console import Console

MAX_BATCH = 500


def _questions(args: argparse.Namespace) -> list[str]:
    if args.batch_file:
        try:
            lines = Path(args.batch_file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read --batch-file {args.batch_file}: {exc}") from None
        qs = [q.strip() for q in lines if q.strip()]
        if not qs:
            raise UsageError(f"--batch-file {args.batch_file} has no questions (one per line)")
        if len(qs) > MAX_BATCH:
            raise UsageError(f"--batch-file has {len(qs)} questions; at most {MAX_BATCH} per run")
        if args.prompt and args.prompt.strip():
            # PROMPT is the batch's shared instruction: each line is asked with it, so each answer is
            # cached on its own (instruction + line) and a later run of one of those lines is a hit.
            instruction = args.prompt.strip()
            return [f"{instruction}\n\n{q}" for q in qs]
        return qs
    if not args.prompt or not args.prompt.strip():
        raise UsageError("query needs a PROMPT or --batch-file FILE")
    return [args.prompt]


def run(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    questions = _questions(args)
    assistant = Assistant(settings, warn=console.notice)
    try:
        assistant.registry.get(args.template)
        items = tuple(Item(f"q{i + 1}", q) for i, q in enumerate(questions))
        request = Request(
            frame="answer",
            templates=(args.template,),
            items=items,
            model=args.model,
            temperature=args.temperature,
            max_tokens=args.max_tokens,
            use_cache=not args.no_cache,
            plain=len(items) == 1 and not args.batch_file,  # one question: a plain chat completion
        )
        resp = assistant.ask(request)
    finally:
        assistant.close()
    return _print(args, settings, console, items, resp)


def _print(
    args: argparse.Namespace, settings: Settings, console: Console, items: tuple[Item, ...], resp: Response
) -> int:
    answered = [(it, resp.get(it.id, args.template)) for it in items]
    unanswered = [it for it, r in answered if r.data is None]
    n = max(1, sum(1 for _, r in answered if r.source == "api"))  # tokens are shared by a batch
    if args.json:
        docs = []
        for _, r in answered:
            api = r.source == "api"
            prompt = resp.prompt_tokens // n if api else 0
            completion = resp.completion_tokens // n if api else 0
            docs.append(
                {
                    "model": r.model or args.model or settings.model_primary,
                    "content": r.data.get("answer", "") if r.data else None,
                    "usage": {
                        "prompt_tokens": prompt,
                        "completion_tokens": completion,
                        "total_tokens": prompt + completion,
                    },
                    "cached": r.source == "cache",
                }
            )
        shown = docs[0] if len(docs) == 1 and not args.batch_file else docs
        console.print(inert_json(json.dumps(shown, ensure_ascii=False)))
    else:
        for it, r in answered:
            if r.data is None:  # no blank answer on stdout: the error below names what is missing
                continue
            if len(items) > 1:
                line = it.content.splitlines()[-1] if it.content else ""  # a batch line, without the instruction
                console.print(inert_line(f"[{it.id}] {line}"), "bold")
            # The answer is model text and may land in a CI log: no line of it may run there.
            console.print(inert(str(r.data.get("answer", ""))))
            if len(items) > 1:
                console.print()
    if unanswered:
        reason = resp.fallback_reason or NO_ANSWER
        hint = ""
        if reason.exit_code == EXIT_NO_KEY:
            hint = " — set OPENAI_API_KEY (or OPENAI_API_KEY_PRIMARY / OPENAI_API_KEY_SECONDARY)"
        missing = f" ({len(unanswered)} of {len(items)} unanswered)" if len(items) > 1 else ""
        console.error(f"{reason}; query has no offline answer{missing}{hint}")
        return reason.exit_code
    return EXIT_OK
