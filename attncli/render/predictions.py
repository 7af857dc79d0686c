"""`attncli model --show predictions` as tables: per text, one row per position (a masked-LM head: per mask)
with the token, the token that follows and the probability the model gave it, and the model's top k; then the
text's loss and perplexity, or why they do not apply."""

from __future__ import annotations

from typing import Any


def prediction_renderables(texts: list[dict[str, Any]], k: int, precision: int) -> list[Any]:
    """One table and one line per text, from cli/model_predict.rows_of."""
    from rich.table import Table
    from rich.text import Text

    out: list[Any] = []
    for doc in texts:
        lead = "" if doc["text"] is None else f"text {doc['text']} · "
        masked = doc["masked"]
        title = lead + ("the fillers of each mask (masked-LM head)" if masked else "next-token predictions")
        table = Table(title=title, title_justify="left")
        table.add_column("#", justify="right")
        table.add_column("token")
        if not masked:
            table.add_column("next")
            table.add_column("p(next)", justify="right")
        for r in range(1, k + 1):
            table.add_column(str(r))
        for row in doc["rows"]:
            cells = [str(row["position"]), row["token"]]
            if not masked:
                cells += ["" if row["next"] is None else row["next"],
                          "" if row["p_next"] is None else f"{row['p_next']:.{precision}f}"]
            cells += [f"{label} {p:.{precision}f}" for label, p in row["top"]]
            table.add_row(*cells)
        out.append(table)
        if masked:
            line = ("loss and perplexity: not applicable (a masked-LM head fills each mask; it does not predict "
                    "the next token)")
        elif doc["loss"] is None:
            line = "loss and perplexity: none (a text of one token has no next token to score)"
        else:
            import math

            line = (f"loss {doc['loss']:.{precision}f} nats per token (mean −ln p(next) over {doc['scored']} "
                    f"next tokens) · perplexity {math.exp(doc['loss']):.{precision}f}")
        out.append(Text(line))
    return out
