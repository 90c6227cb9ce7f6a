"""contact_plans/formats"""
