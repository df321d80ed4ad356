"""A search run as its own process by test_search.py: a cheap objective that sleeps, so it can be killed mid-way.

    python _slow_search.py DB_PATH LOG_PATH N_TRIALS SLEEP_SECONDS
"""

import sys
import time

from lamina import tune


def main(db, log, n_trials, sleep):
    def objective(p):
        with open(log, "a") as f:
            f.write(f"{p['x']!r}\n")
        time.sleep(sleep)
        return (p["x"] - 0.3) ** 2

    tune.search(objective, {"x": tune.Float(0.0, 1.0)}, metric="loss", method="random", n_trials=n_trials,
                seed=0, storage=db, study_name="killed", pruner="none", verbose=False)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
