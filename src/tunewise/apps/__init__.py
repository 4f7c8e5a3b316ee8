"""Applications built only on the public API and the predictors: assist, monitor, recommend."""
