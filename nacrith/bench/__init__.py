"""``nacrith bench``: nacrith beside the general-purpose compressors, the model alone (ideal code length,
raw speed), ablation and scaling, and the corpora they run on."""
