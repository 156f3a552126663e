"""Plumbing shared by the StyleGAN library, the method and the toy world; imports none of them."""
