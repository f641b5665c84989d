"""``gan-atelier classifier``: train or test the feature classifier of the metrics.

    gan-atelier classifier train [--dataset fashion-mnist] [--out DIR]
    gan-atelier classifier test [--weights FILE]
"""

from __future__ import annotations

import argparse

from ..metrics.classifier import ClassifierTrainingConfig


def cmd_classifier(args: argparse.Namespace) -> int:
    from ..data import load_split
    from ..metrics.classifier import accuracy, save_classifier, train_classifier
    from ..metrics.features import WEIGHTS_NAME, load_classifier

    if args.action == "test":
        extractor = load_classifier(args.weights) if args.weights else load_classifier()
        test = load_split(args.dataset, "test", args.data_dir)
        value = accuracy(extractor.model, test.images, test.labels)
        print(f"{extractor.name} ({extractor.path})")
        print(f"sha256 {extractor.sha256} (matches its record)" if not args.weights else f"sha256 {extractor.sha256}")
        print(f"{args.dataset} test accuracy: {value:.4f}")
        return 0
    config = ClassifierTrainingConfig(dataset=args.dataset, seed=args.seed, epochs=args.epochs,
                                      weight_decay=args.weight_decay, threads=args.threads, subset=args.subset)
    train = load_split(args.dataset, "train", args.data_dir)
    test = load_split(args.dataset, "test", args.data_dir)
    print(f"Training the {args.dataset} feature classifier: {config}")
    model, report = train_classifier(train.images, train.labels, config,
                                     test_images=test.images, test_labels=test.labels)
    command = (f"gan-atelier classifier train --dataset {args.dataset} --seed {args.seed} "
               f"--epochs {args.epochs} --weight-decay {args.weight_decay} --threads {args.threads} "
               f"--out {args.out}" + (f" --name {args.name}" if args.name else ""))
    record = {"test_accuracy": report["test_accuracy"], "seed": args.seed, "dataset": args.dataset,
              "command": command, **report,
              "data_sha256": {"train": train.sha256, "test": test.sha256}}
    path, record = save_classifier(model, record, args.out, args.name or WEIGHTS_NAME)
    print(f"Wrote {path} ({record['bytes'] / 1024:.0f} KiB, sha256 {record['sha256'][:12]}…), "
          f"test accuracy {record['test_accuracy']:.4f} in {record['train_seconds']:.0f} s")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("classifier", help="train or test the feature classifier of the metrics")
    p.add_argument("action", choices=("train", "test"))
    p.add_argument("--dataset", default="fashion-mnist", choices=("fashion-mnist", "mnist"))
    p.add_argument("--data-dir", help="folder holding the IDX files")
    p.add_argument("--out", default="classifier", help="train: output folder (default ./classifier)")
    p.add_argument("--name", help="train: file stem (default fmnist_cnn_v1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=ClassifierTrainingConfig.epochs)
    p.add_argument("--weight-decay", type=float, default=ClassifierTrainingConfig.weight_decay,
                   help="train: AdamW weight decay")
    p.add_argument("--threads", type=int, default=1, help="train: torch threads (fixes the result; default 1)")
    p.add_argument("--subset", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--weights", help="test: a classifier .pt (default: the shipped one)")
    p.set_defaults(func=cmd_classifier)
