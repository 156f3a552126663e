"""The paper's method (Nitzan et al. 2020): E_id, E_attr, E_lnd, M and D_W, their losses, the
generated dataset, training, evaluation and the pictures made from a trained run.

It builds on `idd_tf.stylegan` and imports nothing from the toy world: other encoder
architectures (the toy world's among them) come in through `registry`.
"""
