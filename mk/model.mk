# make soak: the model's properties and the sequencing checks over many more
# seeded scenarios than make check runs (there: 10,000 model scenarios, 200
# property seeds, 1,500 model-vs-C scenarios).
SOAK_SCENARIOS	?= 200000
SOAK_SEQ_SEEDS	?= 5000
SOAK_MODEL_SEEDS ?= 30000

.PHONY: soak
soak: all $(B)/tests/test_seq_prop
	FERRY_SEQ_SEEDS=$(SOAK_SEQ_SEEDS) ./$(B)/tests/test_seq_prop
	FERRY_MODEL_SCENARIOS=$(SOAK_SCENARIOS) FERRY_BIN=$(CURDIR)/$(B)/ferry \
	FERRY_TOOLS=$(CURDIR)/$(B)/tools FERRY_SRCDIR=$(CURDIR) \
	FERRY_SEQ_MODEL_SEEDS=$(SOAK_MODEL_SEEDS) \
	    $(PYTEST) -q -p no:cacheprovider tests/model tests/e2e/test_channel_model.py
