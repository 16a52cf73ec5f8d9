"""An example processing script: `easy_sm local process -f process_data.py` runs it locally,
`easy_sm process -f process_data.py ...` on SageMaker.

It summarises the CSV files under /opt/ml/processing/input into
/opt/ml/processing/output/summary.json. Processing scripts live in this folder.
"""

from __future__ import annotations

import glob
import json
import os

BASE = os.environ.get("SM_PROCESSING_DIR", "/opt/ml/processing")


def main() -> None:
    input_dir = os.path.join(BASE, "input")
    output_dir = os.path.join(BASE, "output")
    files = sorted(glob.glob(os.path.join(input_dir, "**", "*.csv"), recursive=True))
    rows = 0
    labels: dict[str, int] = {}
    for name in files:
        with open(name, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    rows += 1
                    label = line.split(",", 1)[0]
                    labels[label] = labels.get(label, 0) + 1
    os.makedirs(output_dir, exist_ok=True)
    summary = {"files": len(files), "rows": rows, "labels": labels}
    with open(os.path.join(output_dir, "summary.json"), "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
