{#- Every CRM snapshot row, renamed and cleaned, with the reason it cannot be used
    (`crm_row_problem`), or null. A row is kept out of the leads (the lead keeps its row
    from an earlier export, if any) and listed in reporting.feed_problems, with its
    export and row, when a value that reaches a key is longer than its limit
    (macros/bounds.sql) or a time is implausible: before 2000, or more than a day after
    the export was taken (a typo such as year 0025 or 9999 would otherwise stretch
    every weekly mart over the centuries between). The export's own time, not the
    refresh's as_of, so whether a row is usable never changes with the clock. Read the
    usable rows through macro usable_crm_row, which the raw table's indexes follow. -#}
{%- set times = [('created_at', 'created_at'), ('booked_at', 'booked_at'),
                 ('invited_at', 'invited_at'), ('reminder_sent_at', 'reminder_sent_at'),
                 ('updated_at', 'updated_at')] %}
with

source as (

    select * from {{ source('crm', 'crm_lead_snapshots') }}

),

texts as (

    select
        *,
        nullif(lower(trim(email)), '') as sent_email,
        nullif(trim(name), '') as sent_name,
        nullif(lower(trim(source)), '') as sent_source,
        nullif(trim(booking_uid), '') as sent_booking_uid,
        nullif(concat_ws(', '
        {%- for label, column in times %},
            case when {{ column }} < cast('2000-01-01T00:00:00Z' as timestamptz)
                      or {{ column }} > snapshot_at + interval '1 day'
                then '{{ label }} ' || to_char({{ column }} at time zone 'UTC',
                                                'YYYY-MM-DD"T"HH24:MI"Z"') end
        {%- endfor %}
        ), '') as implausible_times

    from source

),

renamed as (

    select
        ---------- ids
        snapshot_id,
        lead_id,
        row_number as export_row,
        {{ bounded('sent_booking_uid', 'uid') }} as crm_booking_uid,

        ---------- strings
        {{ bounded('sent_email', 'email') }} as lead_email,
        {{ bounded('sent_name', 'name') }} as lead_name,
        coalesce({{ bounded('sent_source', 'source') }}, 'unknown') as lead_source,
        nullif(trim(status), '') as crm_lead_status_raw,
        nullif(trim(booking_status), '') as crm_booking_status_raw,

        ---------- timestamps
        snapshot_at,
        created_at as lead_created_at,
        booked_at as crm_booked_at,
        invited_at,
        reminder_sent_at,
        updated_at as crm_updated_at,

        ---------- what makes the row unusable
        case
            when oversized is not null then 'oversized_value'
            when implausible_times is not null then 'implausible_crm_time'
        end as crm_row_problem,
        case
            when oversized is not null then 'a value too long to be a key: ' || oversized
            when implausible_times is not null
                then 'a time before 2000 or after the export was taken: ' || implausible_times
        end as crm_row_problem_detail

    from texts
    cross join lateral (
        select {{ oversized_fields([
            ('lead_id', 'lead_id', 'lead_id'),
            ('email', 'sent_email', 'email'),
            ('name', 'sent_name', 'name'),
            ('source', 'sent_source', 'source'),
            ('booking_uid', 'sent_booking_uid', 'uid'),
            ('status', 'nullif(trim(status), \'\')', 'label'),
            ('booking_status', 'nullif(trim(booking_status), \'\')', 'label'),
        ]) }} as oversized
    ) as sizes

)

select * from renamed
