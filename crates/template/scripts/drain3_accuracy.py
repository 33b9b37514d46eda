#!/usr/bin/env python3
"""Grouping accuracy of Drain3 (default settings) on LogHub's 2k samples.

Usage: drain3_accuracy.py [--messages DIR] DATA_DIR NAME...

For each NAME, feeds the raw lines of DATA_DIR/NAME_2k.log (or, with
--messages, the lines of DIR/NAME.messages: one parsed message per log line)
to a fresh Drain3 TemplateMiner with its default configuration and prints one line,
`NAME GA`, where GA is the grouping accuracy against the EventId column of
NAME_2k.log_structured.csv: a line counts as correct when the lines of its
predicted group are exactly the lines that share its ground-truth EventId.
This is the same metric as firewatch-template's loghub_accuracy test, which
runs this script and prints its figures beside its own.
"""

import csv
import logging
import os
import sys
from collections import Counter

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig


def grouping_accuracy(truth, predicted):
    pairs = Counter(zip(predicted, truth))
    truth_sizes = Counter(truth)
    predicted_sizes = Counter(predicted)
    labels_of_group = Counter(group for group, _ in pairs)
    correct = sum(
        size
        for (group, label), size in pairs.items()
        if labels_of_group[group] == 1 and truth_sizes[label] == predicted_sizes[group]
    )
    return correct / len(truth)


def main():
    logging.disable(logging.CRITICAL)
    arguments = sys.argv[1:]
    messages_dir = None
    if arguments[:1] == ["--messages"]:
        messages_dir, arguments = arguments[1], arguments[2:]
    data_dir, names = arguments[0], arguments[1:]
    for name in names:
        path = os.path.join(data_dir, f"{name}_2k.log")
        if messages_dir is not None:
            source = os.path.join(messages_dir, f"{name}.messages")
        else:
            source = path
        with open(source, encoding="utf-8", errors="replace") as log:
            lines = log.read().rstrip("\n").split("\n")
        with open(f"{path}_structured.csv", encoding="utf-8", newline="") as structured:
            truth = [row["EventId"] for row in csv.DictReader(structured)]
        # An explicit, untouched config: the defaults, whatever drain3.ini
        # may lie in the working directory.
        miner = TemplateMiner(config=TemplateMinerConfig())
        predicted = [miner.add_log_message(line)["cluster_id"] for line in lines]
        print(f"{name} {grouping_accuracy(truth, predicted):.4f}", flush=True)


if __name__ == "__main__":
    main()
