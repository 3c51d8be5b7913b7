"""The embedded default study (``python -m launch.study``): train a category-controlled zoo
on Fashion-MNIST, evaluate it through the runner and store, and reproduce the paper's
analysis (Fig. 1–6 and its claims) as a report directory."""
