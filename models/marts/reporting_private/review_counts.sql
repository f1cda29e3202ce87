{#- How many review items there are, by reason and by the week of the slot (in the
    report's timezone; null for items without a slot). The page, the terminal and the
    digest count from here: the queue itself is only ever read a page at a time, so
    its totals must not depend on how much of it is shown. -#}
with

queue as (

    select * from {{ ref('review_queue') }}

),

counted as (

    select
        reason,
        {{ week_start('start_at') }} as slot_week,
        count(*) as items

    from queue
    group by 1, 2

)

select
    cast(reason as text) as reason,
    cast(slot_week as date) as slot_week,
    cast(items as integer) as items

from counted
