"""The Kaggle notebooks students fork, and the builder that generates them."""
