"""easy_sm: AWS SageMaker without the boilerplate."""

__version__ = "0.1.0"
