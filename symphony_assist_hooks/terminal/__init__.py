"""What a person reads: `console.py` (every line a command prints, coloured and escaped) and
`progressline.py` (the progress line of a long run). Kept empty: `--help` imports this package."""
