include $(sort $(wildcard $(BR2_EXTERNAL_QVK_PATH)/package/*/*.mk))
