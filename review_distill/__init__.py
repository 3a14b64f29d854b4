"""The code of the review-distill project: one module per step, run by the CLIs in scripts/ (see
project.yml), and `textcat_distill`, the component that each packaged student ships. The method is
in docs/method.md."""
