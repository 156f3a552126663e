"""The toy world: rendered faces with known identity and attribute factors and landmarks, the toy
E_id / E_lnd and the independent evaluator trained on them, and the protocol that scores the method
against copying, style mixing and the ideal render. Built on `idd_tf.method` and `idd_tf.stylegan`.

Modules: `world` (factors and renderer), `nets` (toy networks and their files), `net_training`,
`evaluation` (scores by the evaluator), `protocol` (a run scored on generated and rendered pairs).
"""
