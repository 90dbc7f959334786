"""`tfimage models`: every model name the other commands accept."""


def register(groups):
    parser = groups["root"].add_parser(
        "models",
        help="List the model names (pretrained, baselines, our own) and what each is.",
    )
    parser.set_defaults(func=run)


def run(args):
    from tfimage import zoo

    for name, spec in zoo.list_models().items():
        print(f"{name:<20} {spec['kind']:<10} {spec['description']}")
