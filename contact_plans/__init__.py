"""contact_plans"""
