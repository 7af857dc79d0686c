"""Text in: tokenizers, embeddings and token labels. Pure functions over strings and numpy arrays; the CLI
decides where the text and the tables come from."""
