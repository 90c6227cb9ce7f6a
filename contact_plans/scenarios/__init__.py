"""contact_plans/scenarios"""
