"""One module per subcommand, each `run(args, settings, console) -> int`, imported only when it runs."""
